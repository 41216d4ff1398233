"""Helpers for materializing the real assets in-process against the simulator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from dagster import DagsterInstance, materialize
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from enrichment_pipeline.partitions import partition_key, symbol_partitions
from enrichment_pipeline.resources.database import DatabaseResource
from enrichment_pipeline.resources.polygon import PolygonResource


def resources_for(database_url: str, base_url: str | None = None, api_key: str | None = None, **polygon_settings) -> dict:
    database = DatabaseResource(url=database_url)
    settings = {"rate_limit_per_minute": 0.0, "backoff_initial_seconds": 0.01, "backoff_max_seconds": 0.05, "timeout_seconds": 5.0}
    settings.update(polygon_settings)
    return {"database": database, "polygon": PolygonResource(database=database, base_url=base_url, api_key=api_key, **settings)}


def range_tags(symbols: Sequence[str], start: dt.date | str, end: dt.date | str) -> dict[str, str]:
    return {
        ASSET_PARTITION_RANGE_START_TAG: str(partition_key(symbols[0], start)),
        ASSET_PARTITION_RANGE_END_TAG: str(partition_key(symbols[-1], end)),
    }


def materialize_range(assets, resources: dict, instance: DagsterInstance, symbols: Sequence[str], start, end, *, raise_on_error: bool = True, selection=None):  # noqa: ANN001
    """One run over the rectangle symbols × start..end (the symbols must be partitions already)."""
    existing = set(instance.get_dynamic_partitions(symbol_partitions.name))
    missing = [s for s in symbols if s not in existing]
    if missing:
        instance.add_dynamic_partitions(symbol_partitions.name, missing)
    return materialize(
        assets, instance=instance, resources=resources, tags=range_tags(symbols, start, end),
        raise_on_error=raise_on_error, selection=selection,
    )
