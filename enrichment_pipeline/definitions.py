"""The code location: every asset, check, job, schedule, sensor and resource of the project."""

from dagster import Definitions

from enrichment_pipeline.assets import all_assets
from enrichment_pipeline.jobs import daily_enrichment_job, enrichment_status_job
from enrichment_pipeline.resources import build_resources
from enrichment_pipeline.retention import options_retention_job, options_retention_schedule
from enrichment_pipeline.schedules import daily_enrichment_schedule, enrichment_status_schedule
from enrichment_pipeline.sensors import run_failure_alert_sensor, status_after_enrichment_sensor, watchlist_sensor

defs = Definitions(
    assets=all_assets,
    jobs=[daily_enrichment_job, enrichment_status_job, options_retention_job],
    schedules=[daily_enrichment_schedule, enrichment_status_schedule, options_retention_schedule],
    sensors=[watchlist_sensor, run_failure_alert_sensor, status_after_enrichment_sensor],
    resources=build_resources(),
)
