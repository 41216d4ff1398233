"""Dagster resource for the Polygon (Massive) REST API."""


import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Optional

from dagster import ConfigurableResource
from pydantic import Field

from enrichment_pipeline.polygon.client import DEFAULT_BASE_URL, FetchLogEntry, PolygonClient
from enrichment_pipeline.polygon.rate_limit import DatabaseTokenBucket
from enrichment_pipeline.resources.database import DatabaseResource
from enrichment_pipeline.storage.logs import record_fetches

logger = logging.getLogger(__name__)

IN_PROCESS_SIMULATOR_URL = "http://polygon-simulator.local"
FETCH_LOG_FLUSH_EVERY = 200


@lru_cache(maxsize=1)
def _in_process_simulator():  # noqa: ANN202
    from enrichment_pipeline.simulator.app import PolygonSimulator

    return PolygonSimulator()


class PolygonResource(ConfigurableResource):
    """Polygon client with Bearer auth, retries, pagination and a rate limit shared through the database.

    With neither an API key nor a base URL it talks to the project's simulator in-process, so the
    demo and the tests run without a key; rows it produces are marked ``is_simulated``.
    """

    database: DatabaseResource
    api_key: Optional[str] = Field(default=None, description="POLYGON_API_KEY or MASSIVE_API_KEY; sent only as a Bearer header")
    base_url: Optional[str] = Field(default=None, description=f"POLYGON_BASE_URL; default {DEFAULT_BASE_URL} with a key, the in-process simulator without")
    rate_limit_per_minute: float = Field(default=5.0, description="Requests per minute shared by every run (5 = free plan; 0 = no limit)")
    rate_limit_burst: float = Field(default=1.0, description="Requests that may go out back-to-back after an idle spell")
    timeout_seconds: float = Field(default=30.0, description="Read timeout of one request")
    max_attempts: int = Field(default=5, description="Attempts per request (429, 5xx, timeouts, connection errors are retried)")
    backoff_initial_seconds: float = Field(default=1.0, description="First retry delay; doubles per attempt, with jitter, unless the API sends Retry-After")
    backoff_max_seconds: float = Field(default=60.0)

    @property
    def uses_in_process_simulator(self) -> bool:
        return not self.api_key and not self.base_url

    @contextmanager
    def client(self, run_id: str | None = None) -> Iterator[PolygonClient]:
        """A client whose every request is written to ``enrichment_fetch_log`` (flushed in batches)."""
        engine = self.database.engine
        pending: list[FetchLogEntry] = []

        def log_request(entry: FetchLogEntry) -> None:
            pending.append(entry)
            if len(pending) >= FETCH_LOG_FLUSH_EVERY:
                record_fetches(engine, pending, run_id)
                pending.clear()

        transport = _in_process_simulator().transport() if self.uses_in_process_simulator else None
        limiter = (
            DatabaseTokenBucket(engine, self.rate_limit_per_minute, burst=self.rate_limit_burst)
            if self.rate_limit_per_minute > 0
            else None
        )
        client = PolygonClient(
            base_url=IN_PROCESS_SIMULATOR_URL if self.uses_in_process_simulator else (self.base_url or DEFAULT_BASE_URL),
            api_key=self.api_key or None,
            transport=transport,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            backoff_initial_seconds=self.backoff_initial_seconds,
            backoff_max_seconds=self.backoff_max_seconds,
            rate_limiter=limiter,
            on_request=log_request,
            is_simulated=self.uses_in_process_simulator,
        )
        try:
            yield client
        finally:
            client.close()
            try:
                record_fetches(engine, pending, run_id)
            except Exception as error:  # noqa: BLE001 - the request log is diagnostics
                # Losing log rows must not fail (and retry) a step whose data is already written.
                logger.warning("could not write %d rows of enrichment_fetch_log: %s", len(pending), type(error).__name__)
            pending.clear()
