"""Backfills for the daemon: a resume asks only for what is missing or failed."""

from dagster import AssetKey

from enrichment_pipeline.assets.vendor import market_data
from enrichment_pipeline.backfills import asset_days_for, submit_backfill, subset_of, wanted_partitions, without_materialized
from enrichment_pipeline.calendar import trading_days
from enrichment_pipeline.definitions import defs
from enrichment_pipeline_tests.dagster_helpers import materialize_range, resources_for


def test_resuming_a_backfill_requests_only_missing_or_failed_partitions(persistent_instance, sqlite_url, simulator_server):
    days = trading_days("2025-03-03", "2025-03-07")
    resources = resources_for(sqlite_url, base_url=simulator_server.base_url)
    assert materialize_range([market_data], resources, persistent_instance, ["AAPL", "MSFT"], days[0], days[1]).success
    plan = asset_days_for(["market_data"], days[0], days[-1])
    wanted = wanted_partitions(plan, ["AAPL", "MSFT"])
    assert len(wanted) == 10
    remaining = without_materialized(wanted, persistent_instance)
    assert sorted(p.partition_key for p in remaining) == sorted(f"{d}|{s}" for d in days[2:] for s in ("AAPL", "MSFT"))
    backfill_id = submit_backfill(persistent_instance, subset_of(remaining, defs.resolve_asset_graph()), title="resume")
    [backfill] = persistent_instance.get_backfills()
    assert backfill.backfill_id == backfill_id
    targeted = backfill.asset_backfill_data.target_subset.get_partitions_subset(AssetKey("market_data"))
    assert sorted(targeted.get_partition_keys()) == sorted(p.partition_key for p in remaining)


def test_the_option_snapshot_is_only_ever_asked_for_the_latest_session():
    from enrichment_pipeline.calendar import latest_partitioned_session

    latest = latest_partitioned_session()
    plan = asset_days_for(["options_iv", "market_data"], trading_days("2025-01-02", latest)[0], latest)
    assert plan["options_iv"] == [latest] and len(plan["market_data"]) > 200
    assert asset_days_for(["options_iv"], trading_days("2025-01-02", "2025-01-10")[0], trading_days("2025-01-02", "2025-01-10")[-1])["options_iv"] == []
