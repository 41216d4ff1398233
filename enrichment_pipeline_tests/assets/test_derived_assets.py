"""Adjustment factors, technical indicators and historical option IV, materialized for real."""

import datetime as dt

import numpy as np
import pytest
import talib
from dagster import AssetKey
from sqlalchemy import func, select

from enrichment_pipeline.analytics.options import bsm_price
from enrichment_pipeline.assets import all_assets
from enrichment_pipeline.calendar import trading_days
from enrichment_pipeline.definitions import defs
from enrichment_pipeline.storage import schema
from enrichment_pipeline.storage.engine import get_engine
from enrichment_pipeline_tests.dagster_helpers import materialize_range, resources_for

SPLIT_DAY = dt.date(2024, 12, 23)  # the simulator's MSFT executes a 1-for-3 split that day
START, END = dt.date(2024, 6, 3), dt.date(2025, 1, 31)
PRICE_CHAIN = ["market_data", "stock_splits", "dividends", "adjustment_factors", "technical_indicators"]


def assets_named(*names: str):  # noqa: ANN201
    return [a for a in all_assets if hasattr(a, "key") and a.key.to_user_string() in names]


@pytest.fixture(scope="module")
def split_history(tmp_path_factory):
    """Eight months of MSFT around its split, materialized once for the tests that only read it."""
    from dagster import DagsterInstance

    from enrichment_pipeline.simulator.server import start_in_thread

    url = f"sqlite:///{tmp_path_factory.mktemp('split') / 'enrichment.db'}"
    server, base_url = start_in_thread(port=0)
    with DagsterInstance.ephemeral() as instance:
        resources = resources_for(url, base_url=base_url)
        result = materialize_range(assets_named(*PRICE_CHAIN), resources, instance, ["MSFT"], START, END)
        assert result.success
        yield url, resources, result
    server.close()


def rows(url: str, table, *conditions, order=None):  # noqa: ANN001, ANN201
    with get_engine(url).connect() as connection:
        return connection.execute(select(table).where(*conditions).order_by(*(order or table.primary_key.columns))).mappings().all()


def test_split_factor_is_recorded_point_in_time_and_raw_bars_stay_raw(split_history):
    url, _, _ = split_history
    factors = {r["date"]: r for r in rows(url, schema.adjustment_factors)}
    assert factors[SPLIT_DAY]["split_factor"] == pytest.approx(1 / 3)
    assert {r["split_factor"] for d, r in factors.items() if d != SPLIT_DAY} == {1.0}
    bars = {r["date"]: r["close"] for r in rows(url, schema.market_data)}
    before, after = bars[trading_days(SPLIT_DAY - dt.timedelta(days=5), SPLIT_DAY)[-2]], bars[SPLIT_DAY]
    assert 2.0 < before / after < 4.5  # the raw series really does drop by about 3x
    indicators = {(r["date"], r["timeframe"]): r for r in rows(url, schema.technical_indicators)}
    # As of the day before the split, its close is unadjusted (no look-ahead) ...
    day_before = trading_days(SPLIT_DAY - dt.timedelta(days=5), SPLIT_DAY)[-2]
    assert indicators[(day_before, "1d")]["close_adjusted"] == pytest.approx(before)
    # ... and from the split on, history is split-adjusted, so volatility shows no fake crash.
    raw_closes = np.array([bars[d] for d in sorted(bars)])
    raw_vol = np.std(np.diff(np.log(raw_closes))[-30:], ddof=1) * np.sqrt(252)
    vol_after = indicators[(trading_days(SPLIT_DAY, SPLIT_DAY + dt.timedelta(days=20))[-1], "1d")]["volatility_20"]
    assert vol_after < 0.8 < raw_vol


def test_indicators_match_talib_on_the_stored_split_adjusted_closes(split_history):
    url, _, _ = split_history
    bars = rows(url, schema.market_data, order=[schema.market_data.c.date])
    closes = np.array([b["close"] / 3 if b["date"] < SPLIT_DAY else b["close"] for b in bars])
    last = rows(url, schema.technical_indicators, schema.technical_indicators.c.date == END, schema.technical_indicators.c.timeframe == "1d")[0]
    upper, middle, lower = talib.BBANDS(closes, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)
    expected = {
        "ma_20": talib.SMA(closes, 20)[-1], "ma_50": talib.SMA(closes, 50)[-1], "ema_12": talib.EMA(closes, 12)[-1],
        "ema_26": talib.EMA(closes, 26)[-1], "rsi_14": talib.RSI(closes, 14)[-1], "bb_upper_20": upper[-1],
        "bb_middle_20": middle[-1], "bb_lower_20": lower[-1],
        "volatility_20": np.std(np.diff(np.log(closes))[-20:], ddof=1) * np.sqrt(252),
    }
    for column, value in expected.items():
        assert last[column] == pytest.approx(value, rel=1e-9), column


def test_single_day_runs_reproduce_the_range_run(split_history, dagster_instance, simulator_server):
    url, resources, _ = split_history
    days = [dt.date(2025, 1, 6), SPLIT_DAY]
    before = {(r["date"], r["timeframe"]): r for r in rows(url, schema.technical_indicators) if r["date"] in days}
    for day in days:
        assert materialize_range(assets_named("adjustment_factors", "technical_indicators"), resources, dagster_instance, ["MSFT"], day, day).success
    after = {(r["date"], r["timeframe"]): r for r in rows(url, schema.technical_indicators) if r["date"] in days}
    assert set(after) == set(before) and len(after) == 4
    for key, row in after.items():
        for column in ("close_adjusted", "ma_20", "ma_50", "ema_12", "ema_26", "rsi_14", "bb_upper_20", "bb_lower_20", "volatility_20"):
            expected = before[key][column]
            if expected is None:  # still warming up (e.g. weekly MA50): empty in both runs
                assert row[column] is None, (key, column)
            else:
                assert row[column] == pytest.approx(expected, rel=1e-9), (key, column)


def test_indicator_run_carries_a_chart_for_the_ui(split_history):
    _, _, result = split_history
    metadata = result.asset_materializations_for_node("technical_indicators")[0].metadata
    assert metadata["chart_MSFT"].value.startswith("![MSFT indicators](data:image/png;base64,")
    assert len(metadata["chart_MSFT"].value) > 10_000


def test_options_iv_history_recovers_a_volatility_that_reprices_each_option(database_url, simulator_server, dagster_instance):
    sqlite_url = database_url  # runs on SQLite and on PostgreSQL
    resources = resources_for(sqlite_url, base_url=simulator_server.base_url)
    days = trading_days("2025-03-03", "2025-03-05")
    result = materialize_range(assets_named("market_data", "options_iv_history"), resources, dagster_instance, ["AAPL"], days[0], days[-1])
    assert result.success
    stored = rows(sqlite_url, schema.options_iv_history)
    assert {r["date"] for r in stored} == set(days)
    solved = [r for r in stored if r["iv_status"] == "OK"]
    assert len(solved) >= 0.8 * len(stored) > 30
    assert all(r["implied_volatility"] is None for r in stored if r["iv_status"] != "OK")
    sigma = np.array([r["implied_volatility"] for r in solved])
    repriced = bsm_price(
        np.array([r["underlying_close"] for r in solved]), np.array([r["strike"] for r in solved]),
        np.array([r["time_to_expiry_years"] for r in solved]), np.array([r["risk_free_rate"] for r in solved]),
        np.array([r["dividend_yield"] for r in solved]), sigma, np.array([r["contract_type"] == "call" for r in solved]),
    )
    np.testing.assert_allclose(repriced, [r["option_close"] for r in solved], rtol=1e-8, atol=1e-8)
    assert ((sigma > 0.05) & (sigma < 2.0)).all()
    with get_engine(sqlite_url).connect() as connection:
        contract_requests = connection.execute(
            select(func.count()).select_from(schema.enrichment_fetch_log).where(schema.enrichment_fetch_log.c.endpoint.like("/v3/reference/options/contracts%"))
        ).scalar_one()
    assert contract_requests == len(days)  # one listing per day; prices come one request per contract
    with get_engine(sqlite_url).connect() as connection:
        logged = connection.execute(
            select(schema.enrichment_fetch_log.c.symbol).where(schema.enrichment_fetch_log.c.dataset == "options_iv_history", schema.enrichment_fetch_log.c.endpoint.like("/v2/aggs/ticker/O%"))
        ).scalars().all()
    assert logged and all(symbol.startswith("O:AAPL") for symbol in logged)  # option tickers fit the log


def test_lineage_runs_from_the_fetched_tables_to_the_derived_ones():
    graph = defs.resolve_asset_graph()

    def parents(name: str) -> set[str]:
        return {key.to_user_string() for key in graph.get(AssetKey(name)).parent_keys}

    assert parents("adjustment_factors") == {"market_data", "stock_splits", "dividends"}
    assert parents("technical_indicators") == {"market_data", "adjustment_factors"}
    assert parents("options_iv_history") == {"market_data", "polygon_option_prices"}
