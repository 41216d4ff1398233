"""One request budget for every process that talks to the vendor with the same database.

A token bucket whose state is a row of ``api_rate_limit``: each request takes a token inside a
short write transaction (row lock on PostgreSQL, the database write lock on SQLite), so runs,
run workers and machines sharing the database share the budget. Libraries such as
pyrate-limiter keep their state in Redis or per-backend tables with a different API per
database; this bucket needs nothing beyond the database the pipeline already has.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from enrichment_pipeline.storage.schema import api_rate_limit

# The vendor counts requests per rolling minute; pacing slightly below the nominal rate keeps
# clock skew between processes from ever producing a 429.
PACING_MARGIN = 0.99


@dataclass
class DatabaseTokenBucket:
    engine: Engine
    requests_per_minute: float
    burst: float = 1.0
    bucket: str = "polygon"
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.requests_per_minute <= 0:
            raise ValueError(
                f"rate limit must be positive requests per minute, got {self.requests_per_minute}; "
                "leave POLYGON_RATE_LIMIT_PER_MINUTE unset or 0 only for the simulator"
            )
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1 request, got {self.burst}")
        self._refill_per_second = self.requests_per_minute * PACING_MARGIN / 60.0

    def _ensure_row(self, connection) -> None:  # noqa: ANN001
        dialect_insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(
            dialect_insert(api_rate_limit)
            .values(bucket=self.bucket, tokens=self.burst, updated_at=self.clock())
            .on_conflict_do_nothing(index_elements=["bucket"])
        )

    def try_acquire(self) -> float:
        """Take a token if one is there; return 0.0, else the seconds to wait before retrying."""
        with self.engine.begin() as connection:
            query = select(api_rate_limit.c.tokens, api_rate_limit.c.updated_at).where(
                api_rate_limit.c.bucket == self.bucket
            )
            if connection.dialect.name == "postgresql":
                query = query.with_for_update()
            row = connection.execute(query).first()
            if row is None:
                self._ensure_row(connection)
                row = connection.execute(query).first()
            now = self.clock()
            elapsed = max(0.0, now - row.updated_at)
            tokens = min(self.burst, row.tokens + elapsed * self._refill_per_second)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = 0.0
            else:
                wait = (1.0 - tokens) / self._refill_per_second
            connection.execute(
                update(api_rate_limit)
                .where(api_rate_limit.c.bucket == self.bucket)
                .values(tokens=tokens, updated_at=now)
            )
        return wait

    def acquire(self) -> float:
        """Block until a token is taken; return the seconds spent waiting."""
        waited = 0.0
        while True:
            wait = self.try_acquire()
            if wait == 0.0:
                return waited
            self.sleep(wait)
            waited += wait
