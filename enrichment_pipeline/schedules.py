"""Schedules. Stopping one in the UI (or `dagster schedule stop`) is the old pause; starting it, resume."""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, SkipReason, schedule
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from enrichment_pipeline import settings
from enrichment_pipeline.calendar import latest_partitioned_session
from enrichment_pipeline.jobs import daily_enrichment_job, enrichment_status_job
from enrichment_pipeline.partitions import DATE_FORMAT, partition_key, symbol_partitions


def daily_run_request(symbols: list[str], session_key: str) -> RunRequest:
    """One run over every watched symbol for one session: a range along the symbol dimension."""
    return RunRequest(
        run_key=f"daily-{session_key}",
        tags={
            ASSET_PARTITION_RANGE_START_TAG: str(partition_key(symbols[0], session_key)),
            ASSET_PARTITION_RANGE_END_TAG: str(partition_key(symbols[-1], session_key)),
            "enrichment/session": session_key,
        },
    )


@schedule(
    name="daily_enrichment_schedule",
    job=daily_enrichment_job,
    cron_schedule=settings.schedule_cron(),
    execution_timezone=settings.schedule_timezone(),
    default_status=DefaultScheduleStatus.RUNNING,
    description="Once a day (ENRICHMENT_SCHEDULE_CRON, default 01:30 UTC): all watched symbols for the latest closed session, in one run.",
)
def daily_enrichment_schedule(context: ScheduleEvaluationContext):
    session = latest_partitioned_session(context.scheduled_execution_time).strftime(DATE_FORMAT)
    symbols = context.instance.get_dynamic_partitions(symbol_partitions.name)
    if not symbols:
        return SkipReason("No symbols in the 'symbols' partitions yet: the watchlist sensor adds them from ENRICHMENT_SYMBOLS.")
    return daily_run_request(symbols, session)


enrichment_status_schedule = ScheduleDefinition(
    name="enrichment_status_schedule",
    job=enrichment_status_job,
    cron_schedule="15 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Hourly refresh of the enrichment_status summary (it also refreshes after each daily run).",
)
