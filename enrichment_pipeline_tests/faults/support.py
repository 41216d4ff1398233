"""Shared pieces of the fault and security tests: a loopback simulator frozen at one session,
a clean reference run, row snapshots and small readers of Dagster's run results.

Everything here drives real parts: the assets are materialized with Dagster, rows go to real
SQLite / PostgreSQL databases and every request crosses loopback HTTP to the simulator.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from dagster import DagsterInstance, materialize
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from enrichment_pipeline.assets.vendor import market_data, news
from enrichment_pipeline.calendar import trading_days
from enrichment_pipeline.simulator import start_in_thread
from enrichment_pipeline.storage import schema
from enrichment_pipeline.storage.engine import get_engine
from enrichment_pipeline_tests.dagster_helpers import range_tags, resources_for

AS_OF = dt.date(2025, 6, 27)  # the simulator's market is frozen at this Friday session
SYMBOLS = ["AAPL", "MSFT"]
DAYS = trading_days(dt.date(2025, 6, 2), dt.date(2025, 6, 13))  # two weeks: 10 sessions
assert len(DAYS) == 10
FETCHED = [market_data, news]
DATASETS = ["market_data", "news"]
AGGS = "/v2/aggs/ticker/"
NEWS = "/v2/reference/news"
POSTGRES_ADMIN_URL = os.environ.get("ENRICHMENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_VOLATILE = {"fetched_at", "computed_at"}


def aggs_prefix(symbol: str) -> str:
    return f"{AGGS}{symbol}/"


# ---- running the assets ---------------------------------------------------------------------


def run_assets(database_url: str, base_url: str, instance: DagsterInstance, *, symbols: Sequence[str] = SYMBOLS,
               start: dt.date = DAYS[0], end: dt.date = DAYS[-1], assets=FETCHED, run_config: dict | None = None,
               **polygon_settings):  # noqa: ANN001, ANN201
    """One real Dagster run over symbols × start..end (like a backfill range run), never raising."""
    from enrichment_pipeline.partitions import symbol_partitions

    existing = set(instance.get_dynamic_partitions(symbol_partitions.name))
    missing = [s for s in symbols if s not in existing]
    if missing:
        instance.add_dynamic_partitions(symbol_partitions.name, missing)
    return materialize(
        assets, instance=instance, resources=resources_for(database_url, base_url=base_url, **polygon_settings),
        tags=range_tags(symbols, start, end), raise_on_error=False, run_config=run_config,
    )


def step_retries(result, step: str | None = None) -> int:  # noqa: ANN001
    """How often Dagster's RetryPolicy restarted a step (of ``step``, or of any)."""
    return sum(
        1 for event in result.all_events
        if event.event_type_value == "STEP_UP_FOR_RETRY" and (step is None or event.step_key == step)
    )


def failure_text(result) -> str:  # noqa: ANN001
    """Every step failure of a run: the error with its cause/context chain and Failure descriptions."""
    parts = []
    for event in result.get_step_failure_events():
        data = event.event_specific_data
        if data.error is not None:
            parts.append(data.error.to_string())
        if data.user_failure_data is not None and data.user_failure_data.description:
            parts.append(data.user_failure_data.description)
    return "\n".join(parts)


def error_text(result) -> str:  # noqa: ANN001
    """Every error any event of the run carries (resource init, step, run failures), with chains."""
    parts = [event.message or "" for event in result.all_events if event.is_failure]
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if error is not None:
            parts.append(error.to_string())
    return "\n".join(parts)


def check_outcomes(result) -> dict[tuple[str, str], bool]:  # noqa: ANN001
    return {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}


# ---- reading the database -------------------------------------------------------------------


def _plain(value):  # noqa: ANN001, ANN202
    # SQLite hands back naive UTC datetimes, PostgreSQL aware ones: compare them as naive UTC.
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def snapshot(database_url: str, dataset: str, symbols: Iterable[str] | None = None) -> list[tuple]:
    """Every row of ``dataset`` (optionally of some symbols) without the fetch timestamps, in key order."""
    table = schema.metadata.tables[dataset]
    columns = [c for c in table.columns if c.name not in _VOLATILE]
    query = select(*columns).order_by(*table.primary_key.columns)
    if symbols is not None:
        query = query.where(table.c.symbol.in_(list(symbols)))
    with get_engine(database_url).connect() as connection:
        return [tuple(_plain(v) for v in row) for row in connection.execute(query)]


def count_rows(database_url: str, dataset: str, symbol: str | None = None) -> int:
    table = schema.metadata.tables[dataset]
    query = select(func.count()).select_from(table)
    if symbol is not None:
        query = query.where(table.c.symbol == symbol)
    with get_engine(database_url).connect() as connection:
        return connection.execute(query).scalar_one()


def distinct_keys(database_url: str, dataset: str) -> int:
    table = schema.metadata.tables[dataset]
    keys = select(*table.primary_key.columns).distinct().subquery()
    with get_engine(database_url).connect() as connection:
        return connection.execute(select(func.count()).select_from(keys)).scalar_one()


def fetch_times(database_url: str, dataset: str, symbol: str) -> set:
    """The distinct ``fetched_at`` of a symbol's rows: one value = written by one slice write."""
    table = schema.metadata.tables[dataset]
    with get_engine(database_url).connect() as connection:
        return {_plain(v) for v in connection.execute(select(table.c.fetched_at).where(table.c.symbol == symbol)).scalars()}


def fetch_log(database_url: str) -> list[dict]:
    table = schema.enrichment_fetch_log
    with get_engine(database_url).connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(table).order_by(table.c.id))]


# ---- the clean reference ---------------------------------------------------------------------


def clean_reference(database_url: str, symbols: Sequence[str] = SYMBOLS, assets=FETCHED) -> dict[str, list[tuple]]:  # noqa: ANN001
    """Rows of a fault-free run (own simulator, own database) to compare faulty runs with."""
    server, base_url = start_in_thread(port=0, as_of=AS_OF)
    try:
        with DagsterInstance.ephemeral() as instance:
            result = run_assets(database_url, base_url, instance, symbols=symbols, assets=assets)
        assert result.success, failure_text(result)
    finally:
        server.close()
    names = [a.key.to_user_string() for a in assets]
    return {name: snapshot(database_url, name) for name in names}


# ---- PostgreSQL helpers ------------------------------------------------------------------------


def admin_engine():  # noqa: ANN201
    return create_engine(POSTGRES_ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def database_name(url: str) -> str:
    return make_url(url).database


def terminate_backends(admin, database: str, *, waiting_only: bool = False, exclude: Iterable[int] = ()) -> list[str]:  # noqa: ANN001
    """``pg_terminate_backend`` every connection to ``database`` (what a server restart does to
    them), or only those waiting for a lock; return the statements they were running."""
    condition = " AND wait_event_type = 'Lock'" if waiting_only else ""
    excluded = set(exclude)
    with admin.connect() as connection:
        backends = [
            (pid, query) for pid, query in connection.execute(
                text(f"SELECT pid, query FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid(){condition}"),
                {"db": database},
            )
            if pid not in excluded
        ]
        for pid, _ in backends:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return [query for _, query in backends]


# ---- waiting for things to happen ------------------------------------------------------------


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def requests_to(simulator, prefix: str) -> int:  # noqa: ANN001
    """API requests the simulator received whose path starts with ``prefix``."""
    return sum(1 for line in simulator.stats.recent if line.split(" ", 1)[1].startswith(prefix))


class Background(threading.Thread):
    """A daemon thread whose exception is re-raised by ``join_and_check``."""

    def __init__(self, target: Callable[[], None]):
        super().__init__(daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as error:  # noqa: BLE001
            self.error = error

    def join_and_check(self, timeout: float = 30.0) -> None:
        self.join(timeout)
        assert not self.is_alive(), "background thread did not finish"
        if self.error is not None:
            raise self.error


def bar_times(symbol: str, start=None, end=None) -> dict:  # noqa: ANN001
    """Session → the ``t`` (Unix ms) of the simulator's bar, from a fault-free in-process simulator."""
    import httpx

    from enrichment_pipeline.simulator import PolygonSimulator

    start, end = start or DAYS[0], end or DAYS[-1]
    with httpx.Client(transport=PolygonSimulator(as_of=AS_OF).transport(), base_url="http://simulator") as client:
        bars = client.get(f"{AGGS}{symbol}/range/1/day/{start}/{end}", params={"adjusted": "false"}).json()["results"]
    from enrichment_pipeline.calendar import trading_days as _days

    sessions = _days(start, end)
    assert len(bars) == len(sessions)
    return dict(zip(sessions, (bar["t"] for bar in bars)))
