"""The daily schedule: one run per day over every watched symbol, which then really runs."""

import datetime as dt

from dagster import AssetKey, build_schedule_context, materialize
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from sqlalchemy import func, select

from enrichment_pipeline.assets import all_assets
from enrichment_pipeline.definitions import defs
from enrichment_pipeline.partitions import symbol_partitions
from enrichment_pipeline.schedules import daily_enrichment_schedule
from enrichment_pipeline.storage import schema
from enrichment_pipeline.storage.engine import get_engine
from enrichment_pipeline_tests.dagster_helpers import resources_for

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMD"]
SATURDAY_0130 = dt.datetime(2025, 3, 8, 1, 30, tzinfo=dt.timezone.utc)  # after Friday 2025-03-07's close


def test_the_schedule_asks_for_one_run_covering_every_symbol_for_the_latest_session(persistent_instance):
    persistent_instance.add_dynamic_partitions(symbol_partitions.name, SYMBOLS)
    context = build_schedule_context(instance=persistent_instance, scheduled_execution_time=SATURDAY_0130)
    request = daily_enrichment_schedule(context)
    assert request.run_key == "daily-2025-03-07"
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == "2025-03-07|AAPL"
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == "2025-03-07|AMD"


def test_the_schedule_skips_until_there_are_symbols(persistent_instance):
    context = build_schedule_context(instance=persistent_instance, scheduled_execution_time=SATURDAY_0130)
    assert "No symbols" in daily_enrichment_schedule(context).skip_message


def test_the_scheduled_run_enriches_every_symbol_in_one_run(sqlite_url, simulator_server, persistent_instance):
    persistent_instance.add_dynamic_partitions(symbol_partitions.name, SYMBOLS)
    request = daily_enrichment_schedule(build_schedule_context(instance=persistent_instance, scheduled_execution_time=SATURDAY_0130))
    # The daily job's assets, with test resources; options_iv is left out because the
    # simulator's snapshot describes today's latest session, not 2025-03-07.
    job_assets = defs.resolve_job_def("daily_enrichment").asset_layer.executable_asset_keys
    selection = [key for key in job_assets if key != AssetKey("options_iv")]
    result = materialize(
        all_assets, selection=selection, instance=persistent_instance, tags=request.tags,
        resources=resources_for(sqlite_url, base_url=simulator_server.base_url),
    )
    assert result.success
    with get_engine(sqlite_url).connect() as connection:
        per_symbol = dict(connection.execute(select(schema.market_data.c.symbol, func.count()).group_by(schema.market_data.c.symbol)).all())
        indicators = connection.execute(select(func.count()).select_from(schema.technical_indicators)).scalar_one()
    assert per_symbol == {symbol: 1 for symbol in SYMBOLS}
    assert indicators == len(SYMBOLS) * 2
    assert len(persistent_instance.get_runs()) == 1
