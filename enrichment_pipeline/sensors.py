"""Sensors: the watchlist keeps the `symbols` partitions in step; failures raise alerts."""

import json
import os

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from enrichment_pipeline import settings
from enrichment_pipeline.alerts import build_alert, send_alert
from enrichment_pipeline.backfills import HISTORY_ASSETS, LATEST_ONLY_ASSETS, asset_days_for, subset_of, wanted_partitions
from enrichment_pipeline.calendar import latest_partitioned_session
from enrichment_pipeline.jobs import daily_enrichment_job, enrichment_status_job
from enrichment_pipeline.partitions import symbol_partitions
from enrichment_pipeline.resources.database import DatabaseResource
from enrichment_pipeline.watchlist import reconcile_with_environment

def new_symbol_backfill(symbols: list[str], asset_graph) -> RunRequest:  # noqa: ANN001
    """A partition backfill (run by the backfill daemon) of the enrichment assets for new symbols:
    full history from ENRICHMENT_START_DATE, option IV history for the recent sessions only."""
    known = {key.to_user_string() for key in asset_graph.get_all_asset_keys()}
    assets = [name for name in (*HISTORY_ASSETS, *LATEST_ONLY_ASSETS, "options_iv_history") if name in known]
    plan = asset_days_for(
        assets, settings.enrichment_start_date(), latest_partitioned_session(),
        recent_option_sessions=settings.positive_int_setting("ENRICHMENT_OPTIONS_HISTORY_BACKFILL_SESSIONS", 20),
    )
    subset = subset_of(wanted_partitions(plan, symbols), asset_graph)
    return RunRequest.for_asset_graph_subset(subset, tags={"enrichment/new_symbols": ",".join(symbols)})


@sensor(
    name="watchlist_sensor",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Keeps the `symbols` partitions equal to the watchlist (ENRICHMENT_SYMBOLS plus `enrichment-pipeline symbols add/remove`). "
    "A new symbol gets a backfill from ENRICHMENT_START_DATE; a removed one is no longer scheduled, its data stays.",
)
def watchlist_sensor(context: SensorEvaluationContext, database: DatabaseResource):
    active = reconcile_with_environment(database.engine, settings.watchlist())
    current = context.instance.get_dynamic_partitions(symbol_partitions.name)
    added = [symbol for symbol in active if symbol not in current]
    removed = [symbol for symbol in current if symbol not in active]
    # Symbols added on an earlier tick whose backfill is not yet requested (the cursor lists
    # the ones already requested), so a backfill starts only once its partitions exist.
    requested = set(json.loads(context.cursor)) if context.cursor else set()
    awaiting_backfill = [symbol for symbol in current if symbol in active and symbol not in requested]
    run_requests = []
    if awaiting_backfill:
        run_requests.append(new_symbol_backfill(awaiting_backfill, context.repository_def.asset_graph))
    partitions_requests = []
    if added:
        partitions_requests.append(symbol_partitions.build_add_request(added))
    if removed:
        partitions_requests.append(symbol_partitions.build_delete_request(removed))
    cursor = sorted((requested | set(awaiting_backfill)) - set(removed))
    return SensorResult(run_requests=run_requests, dynamic_partitions_requests=partitions_requests, cursor=json.dumps(cursor))


@run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=DefaultSensorStatus.RUNNING,
    description="Alerts on every failed run: an error log line, and a POST to ENRICHMENT_ALERT_WEBHOOK_URL when set.",
)
def run_failure_alert_sensor(context: RunFailureSensorContext):
    run = context.dagster_run
    tags = run.tags or {}
    partition_range = (
        f"{tags[ASSET_PARTITION_RANGE_START_TAG]}..{tags[ASSET_PARTITION_RANGE_END_TAG]}"
        if ASSET_PARTITION_RANGE_START_TAG in tags
        else tags.get("dagster/partition")
    )
    message = context.failure_event.message or "run failed"
    alert = build_alert(run.run_id, run.job_name, message, partition_range, os.environ.get("ENRICHMENT_DAGSTER_URL"))
    send_alert(alert, settings.alert_webhook_url())
    context.log.info(f"Failure alert raised for run {run.run_id}")


@run_status_sensor(
    name="status_after_enrichment_sensor",
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_enrichment_job],
    request_job=enrichment_status_job,
    default_status=DefaultSensorStatus.RUNNING,
    description="Refreshes enrichment_status after each successful daily enrichment run.",
)
def status_after_enrichment_sensor(context):  # noqa: ANN001
    return RunRequest(run_key=f"status-after-{context.dagster_run.run_id}")
