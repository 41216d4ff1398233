"""The project's dagster.yaml as Dagster loads it: pool limit, run retries, monitoring, storage."""

import yaml
from dagster import DagsterInstance

from enrichment_pipeline.instance_home import prepare_dagster_home, render_instance_config
from enrichment_pipeline_tests.conftest import REPO_ROOT


def test_the_embedded_instance_enforces_the_polygon_pool_and_retries_crashed_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DAGSTER_PG_URL", raising=False)
    home = prepare_dagster_home()
    with DagsterInstance.from_config(str(home)) as instance:
        config = instance.get_concurrency_config()
        assert config.pool_config.default_pool_limit == 5
        assert config.run_queue_config.max_concurrent_runs == 4
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.run_monitoring_enabled
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"


def test_dagster_pg_url_switches_dagster_storage_to_postgres_by_reference(monkeypatch, postgres_url):
    dagster_url = postgres_url.replace("postgresql+psycopg://", "postgresql+psycopg2://")
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_url)
    config = render_instance_config(REPO_ROOT / "dagster.yaml")
    assert config["storage"] == {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}
    assert dagster_url not in yaml.safe_dump(config)  # the URL stays in the environment


def test_dagster_runs_and_events_live_in_postgres(tmp_path, monkeypatch, postgres_url):
    dagster_url = postgres_url.replace("postgresql+psycopg://", "postgresql+psycopg2://")
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    home = prepare_dagster_home()
    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        instance.add_dynamic_partitions("symbols", ["AAPL"])
        assert instance.get_dynamic_partitions("symbols") == ["AAPL"]
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 5


def test_materializing_with_dagster_storage_on_postgres_records_every_partition(tmp_path, monkeypatch, postgres_url, simulator_server):
    from dagster import AssetKey

    from enrichment_pipeline.assets.vendor import market_data
    from enrichment_pipeline.calendar import trading_days
    from enrichment_pipeline.partitions import partition_key
    from enrichment_pipeline_tests.dagster_helpers import materialize_range, resources_for

    monkeypatch.setenv("DAGSTER_PG_URL", postgres_url.replace("postgresql+psycopg://", "postgresql+psycopg2://"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    home = prepare_dagster_home()
    days = trading_days("2025-03-03", "2025-03-05")
    with DagsterInstance.from_config(str(home)) as instance:
        resources = resources_for(f"sqlite:///{tmp_path / 'data.db'}", base_url=simulator_server.base_url)
        assert materialize_range([market_data], resources, instance, ["AAPL", "MSFT"], days[0], days[-1]).success
        done = instance.get_materialized_partitions(AssetKey("market_data"))
    assert done == {str(partition_key(s, d)) for s in ("AAPL", "MSFT") for d in days}
