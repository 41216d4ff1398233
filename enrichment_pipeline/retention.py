"""The options retention job: archive `options_iv` rows older than the retention window to Parquet, then delete them."""

import datetime as dt

from dagster import DefaultScheduleStatus, MetadataValue, OpExecutionContext, Output, ScheduleDefinition, job, op

from enrichment_pipeline import settings
from enrichment_pipeline.resources.database import DatabaseResource
from enrichment_pipeline.storage.retention import archive_and_delete
from enrichment_pipeline.storage.schema import options_iv


@op(description="Archive options_iv rows older than ENRICHMENT_OPTIONS_RETENTION_DAYS (default 90) to Parquet, then delete them.")
def archive_and_delete_old_options(context: OpExecutionContext, database: DatabaseResource) -> Output[int]:
    days = settings.options_retention_days()
    cutoff = dt.date.today() - dt.timedelta(days=days)
    archive_dir = settings.options_archive_dir()
    result = archive_and_delete(database.engine, options_iv, cutoff, archive_dir)
    context.log.info(f"options_iv retention: {result.rows_deleted} rows before {cutoff} moved to {archive_dir}")
    return Output(
        result.rows_deleted,
        metadata={
            "cutoff": str(cutoff),
            "retention_days": days,
            "rows_archived": result.rows_archived,
            "rows_deleted": result.rows_deleted,
            "archive_dir": MetadataValue.path(str(archive_dir)),
            "files": len(result.files),
        },
    )


@job(name="options_retention", description="Deletes options_iv rows older than the retention window after archiving them to Parquet.")
def options_retention_job():
    archive_and_delete_old_options()


options_retention_schedule = ScheduleDefinition(
    name="options_retention_schedule",
    job=options_retention_job,
    cron_schedule="0 3 * * *",
    execution_timezone=settings.schedule_timezone(),
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily at 03:00: options_iv retention (ENRICHMENT_OPTIONS_RETENTION_DAYS, default 90).",
)
