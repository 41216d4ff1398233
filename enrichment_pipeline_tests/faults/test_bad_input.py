"""Bad input from users: every mistake gets a message that says what to fix.

The CLI and the code location are run as the user runs them, in a subprocess with the bad
environment (settings are read when the definitions are imported); the CLI exits with 2.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance, build_sensor_context

from enrichment_pipeline.resources.database import DatabaseResource
from enrichment_pipeline.symbols import InvalidSymbolError
from enrichment_pipeline_tests.faults.support import error_text, run_assets

pytestmark = pytest.mark.fault

UNREACHABLE = "postgresql://postgres:s3cret-pw@127.0.0.1:1/nowhere"  # nothing listens on port 1
UNREACHABLE_SHOWN = "postgresql+psycopg://postgres:***@127.0.0.1:1/nowhere"
_OUR_VARIABLES = ("ENRICHMENT_", "POLYGON_", "MASSIVE_", "DATABASE_URL", "DAGSTER_")


def _env(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(_OUR_VARIABLES)}
    base.update({
        "DAGSTER_HOME": str(tmp_path / "home"),
        "ENRICHMENT_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'enrichment.db'}",
        "ENRICHMENT_START_DATE": "2024-01-02",
        "PYTHONWARNINGS": "ignore",
    })
    base.update(env)
    (tmp_path / "home").mkdir(exist_ok=True)
    return base


def _run_all(tmp_path: Path, commands: list[tuple[list[str], dict[str, str]]]) -> list[subprocess.CompletedProcess]:
    """Run the commands side by side (each pays Dagster's import time); results in order."""
    processes = [
        subprocess.Popen(argv, cwd=tmp_path, env=_env(tmp_path, env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for argv, env in commands
    ]
    done = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return done


def _run(tmp_path: Path, argv: list[str], **env: str) -> subprocess.CompletedProcess:
    return _run_all(tmp_path, [(argv, env)])[0]


CLI = [sys.executable, "-m", "enrichment_pipeline.cli"]
LOAD_DEFINITIONS = [sys.executable, "-c", "import enrichment_pipeline.definitions"]


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return _run(tmp_path, [*CLI, *args], **env)


def _watchlist(tmp_path: Path) -> list[tuple]:
    with sqlite3.connect(tmp_path / "enrichment.db") as connection:
        return sorted(connection.execute("SELECT symbol, source, active FROM watchlist").fetchall())


def test_malformed_symbols_in_enrichment_symbols_are_named_with_the_fix(tmp_path):
    done = _cli(tmp_path, "symbols", "list", ENRICHMENT_SYMBOLS="aapl,TOO_LONG_SYMBOL")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "Symbol 'aapl' is not a valid ticker (tickers are upper case: use AAPL)" in done.stderr
    assert "Symbol 'TOO_LONG_SYMBOL' is 15 characters long; tickers have at most 10. Check ENRICHMENT_SYMBOLS" in done.stderr
    assert _watchlist(tmp_path) == []  # nothing of the bad list was stored


def test_the_watchlist_sensor_reports_malformed_enrichment_symbols(tmp_path, monkeypatch):
    from enrichment_pipeline.sensors import watchlist_sensor

    monkeypatch.setenv("ENRICHMENT_SYMBOLS", "aapl,TOO_LONG_SYMBOL")
    database = DatabaseResource(url=f"sqlite:///{tmp_path / 'enrichment.db'}")
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance, resources={"database": database})
        with pytest.raises(InvalidSymbolError, match=r"use AAPL.*'TOO_LONG_SYMBOL' is 15 characters long"):
            watchlist_sensor(context)
        assert instance.get_dynamic_partitions("symbols") == []


def test_a_hostile_symbol_on_the_command_line_is_refused_and_not_stored(tmp_path):
    done = _cli(tmp_path, "symbols", "add", "AAPL;DROP")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "error: Symbol 'AAPL;DROP' is not a valid ticker: expected 1–6 upper-case letters or digits" in done.stderr
    # The environment's watchlist was seeded; the bad symbol never reached the table.
    assert _watchlist(tmp_path) == [("AAPL", "env", 1), ("MSFT", "env", 1), ("NVDA", "env", 1)]

    empty = _cli(tmp_path, "symbols", "add")
    assert empty.returncode == 2
    assert "give at least one symbol, e.g. `enrichment-pipeline symbols add AMD`" in empty.stderr


def test_a_start_date_in_the_future_stops_the_code_location_and_the_cli(tmp_path):
    loaded, demo, malformed = _run_all(tmp_path, [
        (LOAD_DEFINITIONS, {"ENRICHMENT_START_DATE": "2999-01-01"}),
        ([*CLI, "demo", "--sessions", "1"], {"ENRICHMENT_START_DATE": "2999-01-01"}),
        (LOAD_DEFINITIONS, {"ENRICHMENT_START_DATE": "2024-13-45"}),
    ])
    assert loaded.returncode == 1
    assert loaded.stderr.strip().splitlines()[-1] == (
        "enrichment_pipeline.settings.SettingsError: ENRICHMENT_START_DATE=2999-01-01 is in the future: "
        "history must start on or before today."
    )
    assert demo.returncode == 2, demo.stderr
    assert demo.stderr.strip() == "error: ENRICHMENT_START_DATE=2999-01-01 is in the future: history must start on or before today."
    assert malformed.returncode == 1
    assert "ENRICHMENT_START_DATE='2024-13-45' is not a date: use YYYY-MM-DD, e.g. 2024-01-02." in malformed.stderr


def test_an_invalid_cron_string_fails_loading_the_definitions_with_the_fix(tmp_path):
    expected = (
        "ENRICHMENT_SCHEDULE_CRON='61 * * *' is not a valid cron string: use five fields, "
        "minute hour day-of-month month day-of-week, e.g. '30 1 * * *' for 01:30 every day."
    )
    bad_cron = {"ENRICHMENT_SCHEDULE_CRON": "61 * * *"}
    validated, demo = _run_all(tmp_path, [
        (["dagster", "definitions", "validate", "-m", "enrichment_pipeline.definitions"], bad_cron),
        ([*CLI, "demo", "--sessions", "1"], bad_cron),
    ])
    assert validated.returncode == 1
    assert "Validation failed for code location enrichment_pipeline.definitions" in validated.stdout + validated.stderr
    assert f"SettingsError: {expected}" in validated.stdout + validated.stderr
    assert demo.returncode == 2, demo.stderr
    assert demo.stderr.strip() == f"error: {expected}"


def test_an_unreachable_database_url_is_named_without_its_password(tmp_path):
    *unreachable, not_a_url = _run_all(tmp_path, [
        ([*CLI, "db", "upgrade"], {"DATABASE_URL": UNREACHABLE}),
        ([*CLI, "symbols", "list"], {"DATABASE_URL": UNREACHABLE}),
        ([*CLI, "db", "upgrade"], {"DATABASE_URL": "enrichment.db"}),
    ])
    for done in unreachable:
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert f"error: Cannot reach the database at {UNREACHABLE_SHOWN}" in done.stderr
        assert "Check DATABASE_URL (host, port, database name) and that the server is running." in done.stderr
        assert "s3cret-pw" not in done.stdout + done.stderr
    assert not_a_url.returncode == 2
    assert "error: DATABASE_URL 'enrichment.db' is not a URL: use e.g. sqlite:////abs/path/enrichment.db" in not_a_url.stderr


def test_db_current_with_an_unreachable_database_says_what_to_fix(tmp_path):
    done = _cli(tmp_path, "db", "current", DATABASE_URL=UNREACHABLE)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"error: Cannot reach the database at {UNREACHABLE_SHOWN}" in done.stderr


def test_a_run_against_an_unreachable_database_fails_saying_what_to_fix(simulator, instance):
    result = run_assets(UNREACHABLE, simulator.base_url, instance)
    assert not result.success
    assert "RESOURCE_INIT_FAILURE" in {event.event_type_value for event in result.all_events}
    text = error_text(result)
    assert f"Cannot reach the database at {UNREACHABLE_SHOWN}" in text
    assert "Check DATABASE_URL" in text and "s3cret-pw" not in text
    assert simulator.simulator.stats.total_requests == 0
