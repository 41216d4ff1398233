"""The commands a user types: the README's demo, `dagster asset materialize --partition`, the watchlist."""

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, func, select

from enrichment_pipeline.calendar import latest_closed_session
from enrichment_pipeline.storage.schema import market_data, technical_indicators, watchlist
from enrichment_pipeline_tests.conftest import REPO_ROOT


@pytest.fixture
def user_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYGON_", "MASSIVE_", "DAGSTER_", "DATABASE_"))}
    env.update({
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'enrichment.db'}",
        "ENRICHMENT_SYMBOLS": "AAPL,MSFT",
        "ENRICHMENT_START_DATE": "2024-01-02",
    })
    return env


def run(env, *args, timeout=240):  # noqa: ANN001, ANN002, ANN201
    return subprocess.run(args, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def rows(env, table) -> int:  # noqa: ANN001
    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return count


def test_the_demo_runs_the_daily_job_on_the_simulator(user_env):
    done = run(user_env, sys.executable, "-m", "enrichment_pipeline.cli", "demo", "--sessions", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "in-process Polygon simulator" in done.stdout and "daily run" in done.stdout
    assert rows(user_env, market_data) == 2 * 3
    assert rows(user_env, technical_indicators) == 2 * 3 * 2  # 1d and 1w per symbol-day
    assert os.path.exists(os.path.join(user_env["DAGSTER_HOME"], "dagster.yaml"))


def test_dagster_asset_materialize_with_a_partition_from_the_cli(user_env):
    added = run(user_env, sys.executable, "-m", "enrichment_pipeline.cli", "symbols", "add", "AMD")
    assert added.returncode == 0, added.stderr
    assert "watchlist: AAPL, AMD, MSFT" in added.stdout
    day = latest_closed_session().isoformat()
    done = run(user_env, "dagster", "asset", "materialize", "-m", "enrichment_pipeline.definitions", "--select", "market_data", "--partition", f"{day}|AMD")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert rows(user_env, market_data) == 1


def test_symbols_are_validated_and_removal_keeps_data(user_env):
    bad = run(user_env, sys.executable, "-m", "enrichment_pipeline.cli", "symbols", "add", "aapl;DROP")
    assert bad.returncode == 2 and "is not a valid ticker" in bad.stderr
    removed = run(user_env, sys.executable, "-m", "enrichment_pipeline.cli", "symbols", "remove", "MSFT")
    assert removed.returncode == 0 and "watchlist: AAPL" in removed.stdout
    engine = create_engine(user_env["DATABASE_URL"])
    with engine.connect() as connection:
        state = dict(connection.execute(select(watchlist.c.symbol, watchlist.c.active)).all())
    engine.dispose()
    assert state == {"AAPL": True, "MSFT": False}


def test_dagster_finds_the_definitions_from_the_repo_root(user_env):
    user_env.pop("DAGSTER_HOME")  # as a newcomer runs it: no flags, no DAGSTER_HOME
    done = run(user_env, "dagster", "definitions", "validate")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
