"""Resources wired from the environment, as the code location builds them."""

import pytest
from dagster import EnvVar

from enrichment_pipeline.resources import build_resources
from enrichment_pipeline.settings import SettingsError


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("POLYGON_API_KEY", "MASSIVE_API_KEY", "POLYGON_BASE_URL", "POLYGON_RATE_LIMIT_PER_MINUTE", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_a_key_the_simulator_runs_unthrottled(clean_env):
    polygon = build_resources()["polygon"]
    assert polygon.api_key is None and polygon.uses_in_process_simulator
    assert polygon.rate_limit_per_minute == 0


def test_the_key_is_passed_by_reference_and_the_free_plan_limit_applies(clean_env):
    clean_env.setenv("POLYGON_API_KEY", "sk-resource-test-1")
    resources = build_resources()
    polygon = resources["polygon"]
    assert polygon.rate_limit_per_minute == 5
    # Dagster keeps the EnvVar reference, so the UI shows the variable name, not the key.
    raw = polygon.__dict__.get("api_key")
    assert isinstance(raw, EnvVar) and raw.env_var_name == "POLYGON_API_KEY"


def test_massive_api_key_is_accepted(clean_env):
    clean_env.setenv("MASSIVE_API_KEY", "sk-massive-2")
    raw = build_resources()["polygon"].__dict__.get("api_key")
    assert isinstance(raw, EnvVar) and raw.env_var_name == "MASSIVE_API_KEY"


def test_the_rate_limit_is_configurable_and_validated(clean_env):
    clean_env.setenv("POLYGON_API_KEY", "k" * 12)
    clean_env.setenv("POLYGON_RATE_LIMIT_PER_MINUTE", "6000")
    assert build_resources()["polygon"].rate_limit_per_minute == 6000
    clean_env.setenv("POLYGON_RATE_LIMIT_PER_MINUTE", "lots")
    with pytest.raises(SettingsError, match="POLYGON_RATE_LIMIT_PER_MINUTE='lots' is not a number"):
        build_resources()


def test_a_postgres_database_url_is_passed_by_reference(clean_env):
    clean_env.setenv("DATABASE_URL", "postgresql://user:pw@127.0.0.1:5432/db")
    raw = build_resources()["database"].__dict__.get("url")
    assert isinstance(raw, EnvVar) and raw.env_var_name == "DATABASE_URL"
