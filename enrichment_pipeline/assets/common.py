"""Pieces every enrichment asset shares: kinds, retry policy, pool, column schema metadata."""

from __future__ import annotations

import datetime as dt
import os

from dagster import Backoff, BackfillPolicy, Failure, FreshnessPolicy, Jitter, RetryPolicy, TableColumn, TableSchema
from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError, OperationalError

from enrichment_pipeline.polygon.errors import PolygonMalformedResponseError, PolygonRetriesExhaustedError

from enrichment_pipeline.settings import database_url

POLYGON_POOL = "polygon_api"
# A backfill run covers one symbol over up to this many trading days (about a year): few runs,
# one request stream per symbol, and a failure costs at most one run's worth of work.
MAX_PARTITIONS_PER_RUN = int(os.environ.get("ENRICHMENT_MAX_PARTITIONS_PER_RUN", "260"))


def database_kind() -> str:
    return "postgres" if database_url().startswith("postgresql") else "sqlite"


def fetch_kinds() -> set[str]:
    return {"polygon", database_kind(), "pandas"}


def compute_kinds() -> set[str]:
    return {"python", database_kind(), "pandas"}


def fetch_retry_policy() -> RetryPolicy:
    # Step-level retries on top of the client's HTTP retries: they cover what outlasts a
    # request's attempts (a long outage, a dropped database connection).
    return RetryPolicy(
        max_retries=3,
        delay=float(os.environ.get("ENRICHMENT_RETRY_DELAY_SECONDS", "10")),
        backoff=Backoff.EXPONENTIAL,
        jitter=Jitter.PLUS_MINUS,
    )


def daily_freshness_policy() -> FreshnessPolicy:
    """Fresh when materialized in the hours before the deadline after each session: by default
    03:30 UTC Tuesday–Saturday, two hours after the 01:30 schedule."""
    return FreshnessPolicy.cron(
        deadline_cron=os.environ.get("ENRICHMENT_FRESHNESS_DEADLINE_CRON", "30 3 * * 2-6"),
        lower_bound_delta=dt.timedelta(hours=float(os.environ.get("ENRICHMENT_FRESHNESS_WINDOW_HOURS", "6"))),
        timezone="UTC",
    )


def backfill_policy() -> BackfillPolicy:
    return BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN)


def table_schema(table: Table) -> TableSchema:
    return TableSchema(
        columns=[
            TableColumn(name=column.name, type=str(column.type).lower(), description=column.comment)
            for column in table.columns
        ]
    )


# Failures worth another attempt of the whole step: the API or the database was unavailable
# for longer than the client's own retries. Anything else (a 401, bad input, a bug) fails at
# once instead of burning the retry budget.
TRANSIENT_ERRORS = (PolygonRetriesExhaustedError, PolygonMalformedResponseError, OperationalError, ConnectionError, TimeoutError)


def is_transient(error: Exception) -> bool:
    return isinstance(error, TRANSIENT_ERRORS) or (isinstance(error, DBAPIError) and error.connection_invalidated)


def as_step_failure(error: Exception, scrub=lambda text: text) -> Exception:  # noqa: ANN001
    """The exception to raise from a step: transient errors as they are (RetryPolicy retries
    them), others as a non-retryable ``Failure`` whose description says what went wrong."""
    if is_transient(error):
        return error
    return Failure(description=scrub(f"{type(error).__name__}: {error}"), allow_retries=False)


def record_failure_quietly(engine, log, **failure) -> None:  # noqa: ANN001
    """Note the failure in enrichment_status without letting a second error (the database being
    down, a value it refuses) replace the step's own error."""
    from enrichment_pipeline.storage.logs import record_failure

    try:
        record_failure(engine, **failure)
    except Exception as error:  # noqa: BLE001 - best effort by design
        log.warning(f"could not record the failure in enrichment_status: {type(error).__name__}")
