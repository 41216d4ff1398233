"""Resources wired from the environment: ``EnvVar`` for every secret, so the UI shows names, not values."""

from __future__ import annotations

import os

from dagster import EnvVar

from enrichment_pipeline import settings
from enrichment_pipeline.resources.database import DatabaseResource
from enrichment_pipeline.resources.polygon import PolygonResource

__all__ = ["DatabaseResource", "PolygonResource", "build_resources"]


def build_resources() -> dict[str, object]:
    # A Postgres URL may hold a password, so it is passed by reference when it comes from the env.
    database = DatabaseResource(url=EnvVar("DATABASE_URL") if os.environ.get("DATABASE_URL", "").strip() else settings.database_url())
    key_variable = settings.polygon_api_key_variable()
    polygon = PolygonResource(
        database=database,
        api_key=EnvVar(key_variable) if key_variable else None,
        base_url=EnvVar("POLYGON_BASE_URL") if os.environ.get("POLYGON_BASE_URL", "").strip() else None,
        rate_limit_per_minute=settings.polygon_rate_limit_per_minute(),
        rate_limit_burst=settings.float_setting("POLYGON_RATE_LIMIT_BURST", 1.0),
        timeout_seconds=settings.float_setting("POLYGON_TIMEOUT_SECONDS", 30.0),
        max_attempts=settings.positive_int_setting("POLYGON_MAX_ATTEMPTS", 5),
        backoff_initial_seconds=settings.float_setting("POLYGON_BACKOFF_INITIAL_SECONDS", 1.0),
        backoff_max_seconds=settings.float_setting("POLYGON_BACKOFF_MAX_SECONDS", 60.0),
    )
    return {"database": database, "polygon": polygon}
