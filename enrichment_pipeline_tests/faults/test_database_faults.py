"""The database goes away or is locked during a run: each slice is either whole or untouched,
and a rerun completes it.

PostgreSQL: ``pg_terminate_backend`` on the data database's connections (what a server restart
does to them), once while the run waits for the API and once in the middle of a slice write.
SQLite: another connection holds the write lock, shorter than the busy timeout (the write
waits and succeeds) or longer (the write fails; the rerun completes).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from enrichment_pipeline.assets.vendor import market_data
from enrichment_pipeline.storage import engine as engine_module
from enrichment_pipeline.storage import schema
from enrichment_pipeline_tests.faults.support import (
    DAYS,
    SYMBOLS,
    Background,
    admin_engine,
    aggs_prefix,
    count_rows,
    database_name,
    failure_text,
    fetch_times,
    requests_to,
    run_assets,
    snapshot,
    step_retries,
    terminate_backends,
    wait_until,
)

pytestmark = pytest.mark.fault

BARS = [market_data]


def _seed_nine_days(url: str, simulator, instance) -> dict[str, set]:  # noqa: ANN001
    """Store DAYS[0..8] of both symbols; return each symbol's fetch times."""
    seeded = run_assets(url, simulator.base_url, instance, assets=BARS, end=DAYS[8])
    assert seeded.success, failure_text(seeded)
    assert count_rows(url, "market_data") == 18
    return {symbol: fetch_times(url, "market_data", symbol) for symbol in SYMBOLS}


def _assert_complete(url: str, clean_rows: dict) -> None:
    assert count_rows(url, "market_data") == 20
    assert snapshot(url, "market_data") == clean_rows["market_data"]


@pytest.mark.postgres
def test_postgres_restart_while_the_run_waits_for_the_api_is_absorbed(postgres_url, simulator, instance, clean_rows):
    sim = simulator.simulator
    sim.faults.delay_next(1, seconds=0.5, path_prefix=aggs_prefix("MSFT"))
    admin = admin_engine()
    killed: list[str] = []

    def restart_when_msft_is_requested() -> None:
        assert wait_until(lambda: requests_to(sim, aggs_prefix("MSFT")) >= 1)
        killed.extend(terminate_backends(admin, database_name(postgres_url)))

    killer = Background(restart_when_msft_is_requested)
    killer.start()
    result = run_assets(postgres_url, simulator.base_url, instance, assets=BARS)
    killer.join_and_check()
    admin.dispose()

    assert len(killed) >= 1, "the pool held connections that the restart killed"
    assert result.success, failure_text(result)
    assert step_retries(result) == 0  # pool_pre_ping replaced the dead connections transparently
    _assert_complete(postgres_url, clean_rows)


@pytest.mark.postgres
@pytest.mark.parametrize("kills", ["once", "every_try"])
def test_postgres_connection_killed_in_the_middle_of_a_slice_write(kills, postgres_url, simulator, instance, clean_rows):
    before = _seed_nine_days(postgres_url, simulator, instance)
    # Another transaction inserts AAPL's 10th bar and keeps it uncommitted: the run's slice write
    # deletes AAPL's 9 stored bars, then its upsert of that bar waits on the other transaction —
    # and is killed right there, half-way through its transaction.
    holder_engine = create_engine(make_url(postgres_url), poolclass=NullPool)
    holder = holder_engine.connect()
    holder_transaction = holder.begin()
    holder_pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
    tenth = dict(zip([c.name for c in schema.market_data.columns if c.name != "fetched_at"], clean_rows["market_data"][9]))
    assert tenth["symbol"] == "AAPL" and tenth["date"] == DAYS[9]
    holder.execute(insert(schema.market_data).values(**tenth, fetched_at=dt.datetime.now(dt.timezone.utc)))
    admin = admin_engine()
    killed: list[str] = []
    stop = threading.Event()
    released = threading.Event()

    def kill_blocked_writers() -> None:
        while not stop.is_set():
            killed.extend(terminate_backends(admin, database_name(postgres_url), waiting_only=True, exclude={holder_pid}))
            if kills == "once" and killed:
                holder_transaction.rollback()
                released.set()
                return
            time.sleep(0.01)

    killer = Background(kill_blocked_writers)
    killer.start()
    result = run_assets(postgres_url, simulator.base_url, instance, assets=BARS)
    stop.set()
    killer.join_and_check()
    if not released.is_set():
        # While the run is over and the writer dead: the other transaction never saw a half-written slice.
        holder_transaction.rollback()
    holder.close()
    holder_engine.dispose()
    admin.dispose()

    # Every kill hit the slice's upsert, after the same transaction's DELETE of the stored bars.
    assert killed and all(query.startswith("INSERT INTO market_data") for query in killed), killed
    if kills == "once":
        assert len(killed) == 1
        assert result.success, failure_text(result)
        assert step_retries(result, "market_data") == 1  # OperationalError is transient: RetryPolicy retried
        _assert_complete(postgres_url, clean_rows)
        assert all(len(fetch_times(postgres_url, "market_data", s)) == 1 for s in SYMBOLS)
        return

    assert not result.success
    tries = 1 + step_retries(result, "market_data")
    assert tries == 4 and len(killed) == tries
    message = failure_text(result)
    assert "Exceeded max_retries of 3" in message and "OperationalError" in message, message
    assert "server closed the connection unexpectedly" in message or "terminating connection" in message, message
    # The killed transactions rolled back: AAPL keeps its 9 stored bars (the DELETE is undone),
    # MSFT was never reached; no bar was half-written.
    for symbol in SYMBOLS:
        assert count_rows(postgres_url, "market_data", symbol) == 9
        assert fetch_times(postgres_url, "market_data", symbol) == before[symbol]
    assert snapshot(postgres_url, "market_data") == [row for row in clean_rows["market_data"] if row[1] != DAYS[9]]

    rerun = run_assets(postgres_url, simulator.base_url, instance, assets=BARS)
    assert rerun.success, failure_text(rerun)
    _assert_complete(postgres_url, clean_rows)


def _sqlite_path(url: str) -> str:
    return make_url(url).database


def _lock(url: str) -> sqlite3.Connection:
    """Another connection holding SQLite's write lock (a transaction begun IMMEDIATE)."""
    holder = sqlite3.connect(_sqlite_path(url), isolation_level=None, check_same_thread=False, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_sqlite_write_waits_for_a_lock_shorter_than_the_busy_timeout(sqlite_url, simulator, instance, clean_rows):
    assert run_assets(sqlite_url, simulator.base_url, instance, assets=BARS).success
    before = {symbol: fetch_times(sqlite_url, "market_data", symbol) for symbol in SYMBOLS}
    lock_seconds = 1.5
    assert lock_seconds * 1000 < engine_module.SQLITE_BUSY_TIMEOUT_MS
    holder = _lock(sqlite_url)
    releaser = threading.Timer(lock_seconds, lambda: holder.execute("ROLLBACK"))
    began = time.monotonic()
    releaser.start()
    result = run_assets(sqlite_url, simulator.base_url, instance, assets=BARS)
    elapsed = time.monotonic() - began
    releaser.join()
    holder.close()

    assert result.success, failure_text(result)
    assert step_retries(result) == 0
    assert elapsed >= lock_seconds  # the write waited for the lock instead of failing
    _assert_complete(sqlite_url, clean_rows)
    for symbol in SYMBOLS:
        after = fetch_times(sqlite_url, "market_data", symbol)
        assert len(after) == 1 and after != before[symbol]


def test_sqlite_lock_outlasting_the_busy_timeout_fails_the_run_untouched_and_a_rerun_completes(sqlite_url, simulator, instance, clean_rows, monkeypatch):
    # The production busy timeout is 30 s; a test that outlasts it 4 times (the step's tries)
    # would take two minutes, so this database's engine waits 0.3 s instead.
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 300)
    before = _seed_nine_days(sqlite_url, simulator, instance)
    holder = _lock(sqlite_url)
    try:
        result = run_assets(sqlite_url, simulator.base_url, instance, assets=BARS)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert not result.success
    assert 1 + step_retries(result, "market_data") == 4
    assert "database is locked" in failure_text(result)
    for symbol in SYMBOLS:
        assert count_rows(sqlite_url, "market_data", symbol) == 9
        assert fetch_times(sqlite_url, "market_data", symbol) == before[symbol]

    rerun = run_assets(sqlite_url, simulator.base_url, instance, assets=BARS)
    assert rerun.success, failure_text(rerun)
    _assert_complete(sqlite_url, clean_rows)
