"""The six fetched assets, materialized for real against the loopback simulator."""

import datetime as dt

import pytest
from dagster import AssetKey
from sqlalchemy import func, select

from enrichment_pipeline.assets.vendor import vendor_assets
from enrichment_pipeline.calendar import latest_closed_session, trading_days
from enrichment_pipeline.storage import schema
from enrichment_pipeline.storage.engine import get_engine
from enrichment_pipeline_tests.dagster_helpers import materialize_range, resources_for

SYMBOLS = ["AAPL", "MSFT"]
DAYS = trading_days("2025-03-03", "2025-03-14")  # two weeks: 10 sessions
HISTORICAL = [a for a in vendor_assets if a.key != AssetKey("options_iv")]
DATASETS = ["market_data", "dividends", "stock_splits", "earnings", "news"]


def snapshot(database_url: str, dataset: str) -> list[tuple]:
    table = schema.metadata.tables[dataset]
    skip = {"fetched_at", "computed_at"}
    columns = [c for c in table.columns if c.name not in skip]
    with get_engine(database_url).connect() as connection:
        return [tuple(row) for row in connection.execute(select(*columns).order_by(*table.primary_key.columns))]


def count(database_url: str, dataset: str) -> int:
    table = schema.metadata.tables[dataset]
    with get_engine(database_url).connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def check_results(result) -> dict[tuple[str, str], bool]:  # noqa: ANN001
    outcomes = {}
    for event in result.get_asset_check_evaluations():
        outcomes[(event.asset_key.to_user_string(), event.check_name)] = event.passed
    return outcomes


def test_each_fetched_asset_stores_its_slice_with_metadata_and_passing_checks(database_url, simulator_server, dagster_instance):
    resources = resources_for(database_url, base_url=simulator_server.base_url)
    result = materialize_range(HISTORICAL, resources, dagster_instance, SYMBOLS, DAYS[0], DAYS[-1])
    assert result.success
    assert count(database_url, "market_data") == len(SYMBOLS) * len(DAYS)
    with get_engine(database_url).connect() as connection:
        flags = set(connection.execute(select(schema.market_data.c.is_simulated)).scalars())
        news_dates = set(connection.execute(select(schema.news.c.date)).scalars())
    assert flags == {True}
    assert news_dates <= set(DAYS) and news_dates  # weekend articles rolled onto sessions
    for dataset in DATASETS:
        materializations = result.asset_materializations_for_node(dataset)
        assert len(materializations) == len(SYMBOLS) * len(DAYS)
        metadata = materializations[0].metadata
        assert metadata["dagster/row_count"].value == count(database_url, dataset)
        assert metadata["table"].value == dataset
        assert "dagster/column_schema" in metadata
    outcomes = check_results(result)
    assert outcomes[("market_data", "ohlc_consistent")] is True
    assert outcomes[("dividends", "dividend_amount_and_currency")] is True
    assert outcomes[("stock_splits", "split_ratio_plausible")] is True
    assert all(passed for (asset, check), passed in outcomes.items()), outcomes
    # One request stream per symbol for the whole range, never one request per day.
    with get_engine(database_url).connect() as connection:
        requests = connection.execute(
            select(schema.enrichment_fetch_log.c.dataset, func.count()).group_by(schema.enrichment_fetch_log.c.dataset)
        ).all()
    assert dict(requests) == {dataset: len(SYMBOLS) for dataset in DATASETS}


def test_materializing_twice_leaves_the_same_rows(sqlite_url, simulator_server, dagster_instance):
    resources = resources_for(sqlite_url, base_url=simulator_server.base_url)
    materialize_range(HISTORICAL, resources, dagster_instance, SYMBOLS, DAYS[0], DAYS[-1])
    first = {dataset: snapshot(sqlite_url, dataset) for dataset in DATASETS}
    materialize_range(HISTORICAL, resources, dagster_instance, SYMBOLS, DAYS[0], DAYS[-1])
    assert {dataset: snapshot(sqlite_url, dataset) for dataset in DATASETS} == first
    assert first["market_data"]


def test_a_range_run_equals_the_union_of_single_partition_runs(tmp_path, simulator_server, dagster_instance):
    range_url = f"sqlite:///{tmp_path / 'range.db'}"
    single_url = f"sqlite:///{tmp_path / 'single.db'}"
    days = DAYS[:4]
    materialize_range(HISTORICAL, resources_for(range_url, base_url=simulator_server.base_url), dagster_instance, SYMBOLS, days[0], days[-1])
    for symbol in SYMBOLS:
        for day in days:
            materialize_range(HISTORICAL, resources_for(single_url, base_url=simulator_server.base_url), dagster_instance, [symbol], day, day)
    for dataset in DATASETS:
        assert snapshot(range_url, dataset) == snapshot(single_url, dataset), dataset


def test_options_iv_stores_the_latest_session_and_refuses_older_dates(sqlite_url, simulator_server, dagster_instance):
    options = [a for a in vendor_assets if a.key == AssetKey("options_iv")]
    resources = resources_for(sqlite_url, base_url=simulator_server.base_url)
    latest = latest_closed_session()
    result = materialize_range(options, resources, dagster_instance, ["AAPL"], latest, latest)
    assert result.success
    with get_engine(sqlite_url).connect() as connection:
        dates = set(connection.execute(select(schema.options_iv.c.date)).scalars())
        ivs = connection.execute(select(schema.options_iv.c.implied_volatility)).scalars().all()
    assert dates == {latest}
    assert sum(iv is not None for iv in ivs) > 10 and all(iv is None or 0 < iv <= 5 for iv in ivs)
    before = count(sqlite_url, "options_iv")
    older = trading_days(latest - dt.timedelta(days=20), latest)[0]
    failed = materialize_range(options, resources, dagster_instance, ["AAPL"], older, older, raise_on_error=False)
    assert not failed.success
    failure = failed.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "options_iv_history" in failure and str(latest) in failure
    assert count(sqlite_url, "options_iv") == before


def test_bad_vendor_records_land_in_the_rejects_table_with_a_failing_check(sqlite_url, simulator_server, dagster_instance):
    simulator_server.simulator.faults.bad_records_for_symbols = {"MSFT"}
    resources = resources_for(sqlite_url, base_url=simulator_server.base_url)
    market = [a for a in vendor_assets if a.key == AssetKey("market_data")]
    result = materialize_range(market, resources, dagster_instance, SYMBOLS, DAYS[0], DAYS[-1])
    with get_engine(sqlite_url).connect() as connection:
        rejects = connection.execute(select(schema.rejected_records)).mappings().all()
        stored = connection.execute(select(schema.market_data.c.symbol, func.count()).group_by(schema.market_data.c.symbol)).all()
    assert rejects and {r["dataset"] for r in rejects} == {"market_data"} and {r["symbol"] for r in rejects} == {"MSFT"}
    assert all(r["reason"] and r["payload"] for r in rejects)
    assert dict(stored)["AAPL"] == len(DAYS)
    assert dict(stored)["MSFT"] + len(rejects) >= len(DAYS)  # every bar is either stored or rejected
    outcomes = check_results(result)
    assert outcomes[("market_data", "no_rejected_records")] is False
    evaluation = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_rejected_records"][0]
    assert evaluation.metadata["rejected_records"].value == len(rejects)


def test_a_wrong_key_ends_the_run_with_a_clear_error_and_writes_nothing(sqlite_url, dagster_instance):
    from enrichment_pipeline.simulator.server import start_in_thread

    server, base_url = start_in_thread(port=0, api_key="the-right-key-123")
    try:
        resources = resources_for(sqlite_url, base_url=base_url, api_key="a-wrong-key-456")
        market = [a for a in vendor_assets if a.key == AssetKey("market_data")]
        result = materialize_range(market, resources, dagster_instance, SYMBOLS, DAYS[0], DAYS[-1], raise_on_error=False)
    finally:
        server.close()
    assert not result.success
    failures = result.get_step_failure_events()
    assert len(failures) == 1  # a 401 is not retried
    message = failures[0].event_specific_data.error.to_string()
    assert "401" in message and "/v2/aggs/ticker/AAPL" in message and "POLYGON_API_KEY" in message
    assert "a-wrong-key-456" not in message
    assert count(sqlite_url, "market_data") == 0
    with get_engine(sqlite_url).connect() as connection:
        status = connection.execute(select(schema.enrichment_status)).mappings().all()
    assert status and "401" in status[0]["last_error"]
