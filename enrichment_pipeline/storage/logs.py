"""Operational tables: request log, computation log, rejected records and per-symbol status."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from enrichment_pipeline.polygon.client import FetchLogEntry
from enrichment_pipeline.storage.schema import (
    enrichment_compute_log,
    enrichment_fetch_log,
    enrichment_status,
    rejected_records,
)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _insert(engine: Engine):  # noqa: ANN202
    return postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert


def record_fetches(engine: Engine, entries: Sequence[FetchLogEntry], run_id: str | None) -> None:
    if not entries:
        return
    with engine.begin() as connection:
        connection.execute(enrichment_fetch_log.insert(), [{**asdict(entry), "run_id": run_id} for entry in entries])


@dataclass(frozen=True)
class RejectedRecord:
    dataset: str
    symbol: str | None
    endpoint: str | None
    reason: str
    payload: dict
    record_hash: str


def record_rejects(engine: Engine, rejects: Iterable[RejectedRecord], run_id: str | None) -> int:
    """Keep every record that failed validation; the same record twice is stored once."""
    rows = [
        {
            "dataset": r.dataset,
            "record_hash": r.record_hash,
            "symbol": r.symbol,
            "endpoint": r.endpoint,
            "reason": r.reason,
            "payload": json.dumps(r.payload, sort_keys=True, default=str),
            "rejected_at": utc_now(),
            "run_id": run_id,
        }
        for r in rejects
    ]
    if not rows:
        return 0
    insert = _insert(engine)(rejected_records)
    statement = insert.on_conflict_do_update(
        index_elements=["dataset", "record_hash"],
        set_={"rejected_at": insert.excluded.rejected_at, "run_id": insert.excluded.run_id, "reason": insert.excluded.reason},
    )
    with engine.begin() as connection:
        connection.execute(statement, rows)
    return len(rows)


def record_computation(
    engine: Engine,
    *,
    dataset: str,
    symbol: str | None,
    partition_start: dt.date | None,
    partition_end: dt.date | None,
    rows: int,
    duration_ms: float,
    status: str,
    message: str | None,
    run_id: str | None,
) -> None:
    with engine.begin() as connection:
        connection.execute(
            enrichment_compute_log.insert().values(
                computed_at=utc_now(), dataset=dataset, symbol=symbol, partition_start=partition_start,
                partition_end=partition_end, rows=rows, duration_ms=duration_ms, status=status,
                message=message, run_id=run_id,
            )
        )


def record_success(engine: Engine, *, symbol: str, dataset: str, last_partition_date: dt.date) -> None:
    now = utc_now()
    insert = _insert(engine)(enrichment_status)
    statement = insert.values(
        symbol=symbol, dataset=dataset, last_success_at=now, last_partition_date=last_partition_date, updated_at=now,
    ).on_conflict_do_update(
        index_elements=["symbol", "dataset"],
        set_={
            "last_success_at": now,
            "last_partition_date": func.max(enrichment_status.c.last_partition_date, last_partition_date)
            if engine.dialect.name == "sqlite"
            else func.greatest(enrichment_status.c.last_partition_date, last_partition_date),
            "last_error": None,
            "updated_at": now,
        },
    )
    with engine.begin() as connection:
        connection.execute(statement)


def record_failure(engine: Engine, *, symbol: str, dataset: str, error: str) -> None:
    now = utc_now()
    insert = _insert(engine)(enrichment_status)
    statement = insert.values(
        symbol=symbol, dataset=dataset, last_error=error[:2000], last_error_at=now, updated_at=now
    ).on_conflict_do_update(
        index_elements=["symbol", "dataset"],
        set_={"last_error": error[:2000], "last_error_at": now, "updated_at": now},
    )
    with engine.begin() as connection:
        connection.execute(statement)


def status_rows(engine: Engine) -> list[dict]:
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(enrichment_status))]
