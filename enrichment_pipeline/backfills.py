"""Partition backfills run by Dagster's backfill daemon: what a new symbol gets, and what
`enrichment-pipeline backfill` asks for (optionally only the missing or failed partitions)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable, Mapping

from dagster import AssetKey, DagsterInstance
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.execution.backfill import PartitionBackfill

from enrichment_pipeline.calendar import latest_partitioned_session, trading_days
from enrichment_pipeline.partitions import partition_key

# Assets whose whole history a backfill can fill. options_iv only has the latest session (the
# vendor snapshot knows no other day) and options_iv_history costs one request per option
# contract, so both are opt-in or limited.
HISTORY_ASSETS = ("market_data", "dividends", "stock_splits", "earnings", "news", "adjustment_factors", "technical_indicators")
LATEST_ONLY_ASSETS = ("options_iv",)


def sessions_between(start: dt.date, end: dt.date) -> list[dt.date]:
    if start > end:
        raise ValueError(f"the start date {start} is after the end date {end}: swap them")
    return trading_days(start, end)


def wanted_partitions(asset_days: Mapping[str, Iterable[dt.date]], symbols: Iterable[str]) -> set[AssetKeyPartitionKey]:
    symbols = list(symbols)
    return {
        AssetKeyPartitionKey(AssetKey(name), partition_key(symbol, day))
        for name, days in asset_days.items()
        for day in days
        for symbol in symbols
    }


def asset_days_for(assets: Iterable[str], start: dt.date, end: dt.date, recent_option_sessions: int | None = None) -> dict[str, list[dt.date]]:
    """Which sessions each asset gets: options_iv only the latest closed session (if in range),
    options_iv_history the last ``recent_option_sessions`` when given, the rest every session."""
    sessions = sessions_between(start, end)
    latest = latest_partitioned_session()
    plan = {}
    for name in assets:
        if name in LATEST_ONLY_ASSETS:
            plan[name] = [latest] if start <= latest <= end else []
        elif name == "options_iv_history" and recent_option_sessions:
            plan[name] = sessions[-recent_option_sessions:]
        else:
            plan[name] = sessions
    return plan


def without_materialized(wanted: set[AssetKeyPartitionKey], instance: DagsterInstance) -> set[AssetKeyPartitionKey]:
    """Drop partitions already materialized: what is left is missing or failed (the old --resume)."""
    done = {key: instance.get_materialized_partitions(key) for key in {p.asset_key for p in wanted}}
    return {p for p in wanted if p.partition_key not in done[p.asset_key]}


def subset_of(wanted: set[AssetKeyPartitionKey], asset_graph) -> AssetGraphSubset:  # noqa: ANN001
    return AssetGraphSubset.from_asset_partition_set(wanted, asset_graph)


def submit_backfill(instance: DagsterInstance, subset: AssetGraphSubset, title: str, tags: Mapping[str, str] | None = None) -> str:
    """Hand a backfill to the daemon (as the UI's "Materialize partitions" does); return its id."""
    backfill_id = uuid.uuid4().hex[:8]
    instance.add_backfill(
        PartitionBackfill.from_asset_graph_subset(
            backfill_id=backfill_id, backfill_timestamp=time.time(), tags=dict(tags or {}),
            dynamic_partitions_store=instance, asset_graph_subset=subset, title=title, description=None, run_config=None,
        )
    )
    return backfill_id
