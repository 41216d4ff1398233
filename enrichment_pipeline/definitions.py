"""The code location: every asset, check, job, schedule, sensor and resource of the project."""

import warnings

from dagster import BetaWarning, Definitions, PreviewWarning, in_process_executor

# Backfill policies, partition mappings and pools are marked beta/preview; we rely on them
# knowingly, and the warnings would bury the demo's and the daemon's output.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

from enrichment_pipeline.assets import all_assets  # noqa: E402
from enrichment_pipeline.jobs import daily_enrichment_job, enrichment_status_job  # noqa: E402
from enrichment_pipeline.resources import build_resources  # noqa: E402
from enrichment_pipeline.retention import options_retention_job, options_retention_schedule  # noqa: E402
from enrichment_pipeline.schedules import daily_enrichment_schedule, enrichment_status_schedule  # noqa: E402
from enrichment_pipeline.sensors import run_failure_alert_sensor, status_after_enrichment_sensor, watchlist_sensor  # noqa: E402

defs = Definitions(
    assets=all_assets,
    jobs=[daily_enrichment_job, enrichment_status_job, options_retention_job],
    schedules=[daily_enrichment_schedule, enrichment_status_schedule, options_retention_schedule],
    sensors=[watchlist_sensor, run_failure_alert_sensor, status_after_enrichment_sensor],
    resources=build_resources(),
    # Steps are I/O-bound and share one API budget: running a run's steps in its own process
    # saves a Python start-up and code import per step (seconds of CPU each on 2 cores).
    executor=in_process_executor,
)
