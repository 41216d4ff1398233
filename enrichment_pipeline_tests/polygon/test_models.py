"""Contract tests: every vendor response in the shared fixtures parses into our models, with
the right values, and the rows fit the tables of storage/schema.py."""

from __future__ import annotations

import datetime as dt
import json
import typing
from functools import lru_cache

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from enrichment_pipeline.polygon.models import (
    AggregateBar,
    Dividend,
    FinancialReport,
    NewsArticle,
    OptionContract,
    OptionSnapshot,
    ReferenceTicker,
    StockSplit,
)
from enrichment_pipeline.polygon.parsing import DATASET_MODELS, parse_records
from enrichment_pipeline.storage import schema
from enrichment_pipeline_tests.polygon import (
    FIXTURE_MODELS,
    SKIPPED_FIXTURES,
    all_fixture_files,
    fixture_results,
    fixtures_dir,
    load_fixture,
)

FETCHED_AT = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
SESSION = dt.date(2022, 4, 29)


def parse_fixture(name: str):
    result = parse_records(FIXTURE_MODELS[name], fixture_results(name))
    assert result.rejects == [], f"{name}: vendor data rejected: {[r.reason for r in result.rejects]}"
    return result.valid


# ---------------------------------------------------------------------------------------------
# Every fixture is accounted for, and every vendor record parses
# ---------------------------------------------------------------------------------------------


def test_fixtures_dir_exists():
    assert fixtures_dir().is_dir(), f"fixtures not found at {fixtures_dir()} (set POLYGON_FIXTURES_DIR)"


def test_every_fixture_file_is_parsed_or_explicitly_skipped():
    files = set(all_fixture_files())
    mapped, skipped = set(FIXTURE_MODELS), set(SKIPPED_FIXTURES)
    assert not mapped & skipped
    assert files - mapped - skipped == set(), "fixture files neither parsed nor listed as skipped"
    assert (mapped | skipped) - files == set(), "listed fixture files that do not exist"


@pytest.mark.parametrize("name", sorted(FIXTURE_MODELS))
def test_fixture_parses_without_rejects(name):
    raw = fixture_results(name)
    valid = parse_fixture(name)
    assert len(valid) == len(raw) > 0
    assert all(isinstance(v, FIXTURE_MODELS[name]) for v in valid)


# ---------------------------------------------------------------------------------------------
# Spot checks of concrete values
# ---------------------------------------------------------------------------------------------


def test_aggregate_bars_values_and_exchange_dates():
    first, second = parse_fixture("v2_aggs_ticker_AAPL_range_1_day_2005-04-01_2005-04-04.json")
    assert first.date == dt.date(2005, 4, 1)
    assert (first.open, first.high, first.low, first.close) == (1.5032, 1.5064, 1.4489, 1.4604)
    assert first.volume == 642646396.0
    assert first.vwap == 1.469
    assert first.transactions == 82132
    assert first.otc is False
    # 2005-04-04 04:00 UTC is midnight EDT (DST began 2005-04-03): still the 4th in New York.
    assert second.window_start == dt.datetime(2005, 4, 4, 4, 0, tzinfo=dt.timezone.utc)
    assert second.date == dt.date(2005, 4, 4)
    assert second.close == 1.4675

    row = first.to_row("AAPL", FETCHED_AT, False)
    assert row["date"] == dt.date(2005, 4, 1)
    assert (row["open"], row["close"], row["volume"]) == (1.5032, 1.4604, 642646396.0)
    assert row["symbol"] == "AAPL" and row["is_simulated"] is False and row["fetched_at"] == FETCHED_AT


def test_bar_date_uses_new_york_not_utc():
    # 2024-01-02 00:00 New York = 05:00 UTC; 2024-01-03 03:00 UTC is still Jan 2 in New York.
    bar = AggregateBar.model_validate({"o": 1, "h": 1, "l": 1, "c": 1, "v": 0, "t": 1704250800000})
    assert bar.window_start == dt.datetime(2024, 1, 3, 3, 0, tzinfo=dt.timezone.utc)
    assert bar.date == dt.date(2024, 1, 2)


def test_dividends_mock_and_openapi_example():
    dividends = parse_fixture("v3_reference_dividends.json")
    first = dividends[0]
    assert first.ticker == "CSSEN"
    assert first.cash_amount == 0.59375
    assert first.ex_dividend_date == dt.date(2025, 6, 12)
    assert first.pay_date == dt.date(2025, 6, 30)
    assert first.record_date == dt.date(2025, 6, 15)
    assert first.declaration_date == dt.date(2020, 9, 9)
    assert first.dividend_type == "CD" and first.frequency == 4
    assert first.vendor_id is None and first.currency is None  # the mock predates id/currency
    airtp = [d for d in dividends if d.ticker == "AIRTP"]
    assert [d.ex_dividend_date for d in airtp] == [dt.date(2023, 11, 13), dt.date(2023, 8, 11)]
    assert {d.cash_amount for d in airtp} == {0.5}

    example = parse_fixture("openapi_examples/v3_reference_dividends.json")[0]
    assert example.vendor_id == "E8e3c4f794613e9205e2f178a36c53fcc57cdabb55e1988c87b33f9e52e221444"
    assert example.ex_dividend_date == dt.date(2021, 11, 5)
    assert example.cash_amount == 0.22
    row = example.to_row("AAPL", FETCHED_AT, True)
    assert row["vendor_id"] == example.vendor_id
    assert row["dividend_type"] == "CD" and row["ex_dividend_date"] == dt.date(2021, 11, 5)
    assert row["is_simulated"] is True


def test_splits_mock_and_openapi_example():
    splits = parse_fixture("v3_reference_splits.json")
    by_ticker = {(s.ticker, s.execution_date): s for s in splits}
    brw = by_ticker[("BRW", dt.date(2022, 5, 20))]
    assert (brw.split_from, brw.split_to) == (2.0, 1.0)  # the reverse split
    assert brw.ratio == 0.5
    googl = by_ticker[("GOOGL", dt.date(2022, 7, 18))]
    assert (googl.split_from, googl.split_to) == (1.0, 20.0)
    cig = by_ticker[("CIG.C", dt.date(2022, 5, 2))]
    assert (cig.split_from, cig.split_to) == (3.0, 4.0)

    aapl_2020, aapl_2005 = parse_fixture("openapi_examples/v3_reference_splits.json")
    assert aapl_2020.execution_date == dt.date(2020, 8, 31)
    assert (aapl_2020.split_from, aapl_2020.split_to) == (1.0, 4.0)
    assert aapl_2020.vendor_id.startswith("E36416cce743")
    assert aapl_2005.execution_date == dt.date(2005, 2, 28) and aapl_2005.split_to == 2.0
    row = aapl_2020.to_row("AAPL", FETCHED_AT, False)
    assert row["split_from"] == 1.0 and row["split_to"] == 4.0 and row["execution_date"] == dt.date(2020, 8, 31)


def test_financials_eps_revenue_net_income():
    (report,) = parse_fixture("vX_reference_financials.json")
    assert report.company_name == "NXP Semiconductors N.V."
    assert report.cik == "0001413447"
    assert report.fiscal_year == 2022 and isinstance(report.fiscal_year, int)
    assert report.fiscal_period == "Q1"
    assert report.timeframe is None  # the mock has no timeframe
    assert (report.start_date, report.end_date, report.filing_date) == (
        dt.date(2022, 1, 1),
        dt.date(2022, 4, 3),
        dt.date(2022, 5, 3),
    )
    assert report.basic_eps == 2.5
    assert report.diluted_eps == 2.48
    assert report.revenue == 3.136e9
    assert report.net_income == 6.66e8
    assert report.financials.income_statement.basic_earnings_per_share.unit == "USD / shares"

    row = report.to_row("NXPI", FETCHED_AT, False)
    assert row["fiscal_year"] == 2022 and row["fiscal_period"] == "Q1"
    assert (row["basic_eps"], row["diluted_eps"], row["revenue"], row["net_income"]) == (2.5, 2.48, 3.136e9, 6.66e8)
    assert row["company_name"] == "NXP Semiconductors N.V."


def test_financials_accept_compact_dates_and_int_fiscal_year():
    raw = fixture_results("vX_reference_financials.json")[0]
    raw.update(start_date="20220101", end_date="20220403", fiscal_year=2022, timeframe="quarterly")
    report = FinancialReport.model_validate(raw)
    assert (report.start_date, report.end_date) == (dt.date(2022, 1, 1), dt.date(2022, 4, 3))
    assert report.fiscal_year == 2022 and report.timeframe == "quarterly"


def test_news_article_values():
    (article,) = parse_fixture("v2_reference_news__ticker-NFLX.json")
    assert article.article_id == "JeJEhAVoKaqJ2zF9nzQYMg07UlEeWlis6Dsop33TPQY"
    assert article.title.startswith("Theres a big hole in the Feds theory of inflation")
    assert article.published_utc == dt.datetime(2022, 4, 28, 17, 8, tzinfo=dt.timezone.utc)
    assert article.publisher.name == "MarketWatch"
    assert article.tickers == ["MSFT", "TSN", "NFLX", "AMZN"]
    assert article.insights == []  # the mock has no insights

    row = article.to_row("NFLX", FETCHED_AT, False)
    assert row["article_id"] == article.article_id
    assert row["date"] == dt.date(2022, 4, 28)  # a Thursday session
    assert row["published_utc"].utcoffset() == dt.timedelta(0)
    assert row["publisher"] == "MarketWatch"
    assert json.loads(row["tickers"]) == ["MSFT", "TSN", "NFLX", "AMZN"]
    assert json.loads(row["keywords"]) == []
    assert row["sentiment"] is None and row["sentiment_reasoning"] is None


def test_news_sentiment_comes_from_this_symbols_insight():
    raw = fixture_results("v2_reference_news__ticker-NFLX.json")[0]
    raw["keywords"] = ["inflation", "fed"]
    raw["insights"] = [
        {"ticker": "MSFT", "sentiment": "positive", "sentiment_reasoning": "cloud"},
        {"ticker": "NFLX", "sentiment": "negative", "sentiment_reasoning": "falling incomes hurt subscriptions"},
    ]
    article = NewsArticle.model_validate(raw)
    nflx = article.to_row("NFLX", FETCHED_AT, False)
    assert (nflx["sentiment"], nflx["sentiment_reasoning"]) == ("negative", "falling incomes hurt subscriptions")
    assert json.loads(nflx["keywords"]) == ["inflation", "fed"]
    assert article.to_row("MSFT", FETCHED_AT, False)["sentiment"] == "positive"
    amzn = article.to_row("AMZN", FETCHED_AT, False)
    assert amzn["sentiment"] is None and amzn["sentiment_reasoning"] is None


@pytest.mark.parametrize(
    "published, trading_day",
    [
        ("2022-04-30T02:00:00Z", dt.date(2022, 4, 29)),  # Friday 22:00 in New York
        ("2022-04-30T15:00:00Z", dt.date(2022, 5, 2)),  # Saturday → Monday
        ("2022-07-04T14:00:00Z", dt.date(2022, 7, 5)),  # Independence Day → next session
        ("2022-04-28T13:08:00-04:00", dt.date(2022, 4, 28)),  # offset form, normalised to UTC
    ],
)
def test_news_trading_day_rolls_forward(published, trading_day):
    raw = fixture_results("v2_reference_news__ticker-NFLX.json")[0]
    raw["published_utc"] = published
    article = NewsArticle.model_validate(raw)
    assert article.published_utc.tzinfo == dt.timezone.utc
    assert article.to_row("NFLX", FETCHED_AT, False)["date"] == trading_day


@pytest.mark.parametrize(
    "name", ["v3_snapshot_options_AAPL.json", "v3_snapshot_options_AAPL__O-AAPL230616C00150000.json"]
)
def test_option_snapshot_values(name):
    (snap,) = parse_fixture(name)
    assert snap.details.ticker == "O:AAPL230616C00150000"
    assert snap.details.strike_price == 150.0
    assert snap.details.expiration_date == dt.date(2023, 6, 16)
    assert snap.details.contract_type == "call" and snap.details.exercise_style == "american"
    assert snap.implied_volatility == pytest.approx(0.3570277203465058)
    assert snap.greeks.delta == pytest.approx(0.6436614934293701)
    assert snap.greeks.gamma == pytest.approx(0.0061735291012820675)
    assert snap.greeks.theta == pytest.approx(-0.028227189324641973)
    assert snap.greeks.vega == pytest.approx(0.6381159723175714)

    row = snap.to_row("AAPL", FETCHED_AT, False, session_date=SESSION)
    assert row["date"] == SESSION
    assert row["contract"] == "O:AAPL230616C00150000"
    assert (row["strike"], row["expiration_date"], row["contract_type"]) == (150.0, dt.date(2023, 6, 16), "call")
    assert row["price"] == 29.0
    assert row["volume"] == 8.0
    assert row["open_interest"] == 8133.0
    assert row["underlying_price"] == 159.9606
    assert row["implied_volatility"] == pytest.approx(0.3570277203465058)
    assert row["theta_per_day"] == pytest.approx(-0.028227189324641973)
    assert row["vega_per_vol_point"] == pytest.approx(0.6381159723175714)


def test_option_snapshot_openapi_example_with_malformed_ticker_still_parses():
    (snap,) = parse_fixture("openapi_examples/v3_snapshot_options_underlying.json")
    assert snap.details.ticker == "O:AAPL211022C000150000"
    assert snap.details.expiration_date == dt.date(2022, 1, 21)
    assert snap.implied_volatility == 5.0 and snap.greeks.delta == 1.0
    assert snap.day.close == 120.73 and snap.underlying_asset.price == 147.0


def test_option_snapshot_without_greeks_iv_or_trades():
    raw = fixture_results("v3_snapshot_options_AAPL.json")[0]
    for key in ("greeks", "implied_volatility", "last_trade", "last_quote", "fmv"):
        raw.pop(key)
    raw["day"] = {}
    raw["underlying_asset"].pop("price")
    row = OptionSnapshot.model_validate(raw).to_row("AAPL", FETCHED_AT, False, session_date=SESSION)
    for column in ("price", "volume", "implied_volatility", "delta", "gamma", "theta_per_day", "vega_per_vol_point",
                   "underlying_price"):
        assert row[column] is None, column
    assert row["strike"] == 150.0


def test_option_snapshot_row_needs_session_date():
    (snap,) = parse_fixture("v3_snapshot_options_AAPL.json")
    with pytest.raises(TypeError, match="session_date"):
        snap.to_row("AAPL", FETCHED_AT, False)
    assert snap.to_row("AAPL", FETCHED_AT, False, session_date="2022-04-29")["date"] == SESSION


def test_option_contracts_reference():
    page1 = parse_fixture("v3_reference_options_contracts.json")
    page2 = parse_fixture("v3_reference_options_contracts__cursor-page2.json")
    assert [c.strike_price for c in page1] == [float(k) for k in range(65, 115, 5)]
    assert [c.strike_price for c in page2] == [float(k) for k in range(115, 165, 5)]
    assert {c.underlying_ticker for c in page1 + page2} == {"A"}
    assert {c.expiration_date for c in page1 + page2} == {dt.date(2022, 5, 20)}

    (evri,) = parse_fixture("v3_reference_options_contracts__O-EVRI240119C00002500.json")
    assert evri.to_contract() == {
        "ticker": "O:EVRI240119C00002500",
        "underlying": "EVRI",
        "expiration_date": dt.date(2024, 1, 19),
        "strike": 2.5,
        "contract_type": "call",
        "exercise_style": "american",
        "shares_per_contract": 100.0,
    }
    assert evri.to_row("EVRI", FETCHED_AT, False) == evri.to_contract()
    assert evri.primary_exchange == "BATO" and evri.cfi == "OCASPS"


def test_reference_tickers():
    a, aa = parse_fixture("v3_reference_tickers.json")
    aaa, aaau = parse_fixture("v3_reference_tickers__cursor-page2.json")
    assert (a.ticker, a.name, a.type, a.primary_exchange) == ("A", "Agilent Technologies Inc.", "CS", "XNYS")
    assert a.market == "stocks" and a.locale == "us" and a.active is True
    assert a.cik == "0001090872"
    assert a.last_updated_utc == dt.datetime(2022, 4, 27, tzinfo=dt.timezone.utc)
    assert aa.name == "Alcoa Corporation"
    assert (aaa.ticker, aaa.type, aaa.primary_exchange, aaa.cik) == ("AAA", "ETF", "ARCX", None)
    assert aaau.cik == "0001708646"
    assert aaau.to_row()["ticker"] == "AAAU"


# ---------------------------------------------------------------------------------------------
# Rows fit the tables of storage/schema.py
# ---------------------------------------------------------------------------------------------

DATASET_FIXTURES = {
    "market_data": "v2_aggs_ticker_AAPL_range_1_day_2005-04-01_2005-04-04.json",
    "dividends": "openapi_examples/v3_reference_dividends.json",
    "stock_splits": "openapi_examples/v3_reference_splits.json",
    "earnings": "vX_reference_financials.json",
    "news": "v2_reference_news__ticker-NFLX.json",
    "options_iv": "v3_snapshot_options_AAPL.json",
}


def test_dataset_models_cover_the_enrichment_tables():
    assert set(DATASET_MODELS) == set(DATASET_FIXTURES)
    for dataset, model in DATASET_MODELS.items():
        assert model.dataset == dataset
        assert dataset in schema.metadata.tables


def _rows(dataset: str) -> list[dict]:
    result = parse_records(DATASET_MODELS[dataset], fixture_results(DATASET_FIXTURES[dataset]))
    assert not result.rejects
    return result.rows("AAPL", FETCHED_AT, False, session_date=SESSION)


@pytest.mark.parametrize("dataset", sorted(DATASET_FIXTURES))
def test_to_row_columns_match_table(dataset):
    table: sa.Table = schema.metadata.tables[dataset]
    required = {c.name for c in table.columns if not c.nullable}
    for row in _rows(dataset):
        assert set(row) <= set(table.columns.keys()), set(row) - set(table.columns.keys())
        assert required <= set(row), required - set(row)
        assert all(row[c] is not None for c in required), [c for c in required if row[c] is None]


@pytest.mark.parametrize("dataset", sorted(DATASET_FIXTURES))
def test_rows_insert_into_the_real_tables(dataset):
    table: sa.Table = schema.metadata.tables[dataset]
    engine = sa.create_engine("sqlite://")
    schema.metadata.create_all(engine, tables=[table])
    rows = _rows(dataset)
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == len(rows)
    engine.dispose()


def test_to_row_requires_aware_fetched_at_and_normalises_to_utc():
    (bar, _) = parse_fixture("v2_aggs_ticker_AAPL_range_1_day_2005-04-01_2005-04-04.json")
    with pytest.raises(ValueError, match="timezone-aware"):
        bar.to_row("AAPL", dt.datetime(2024, 1, 2), False)
    with pytest.raises(ValueError, match="symbol"):
        bar.to_row("", FETCHED_AT, False)
    eastern = dt.timezone(dt.timedelta(hours=-5))
    row = bar.to_row("AAPL", dt.datetime(2024, 1, 1, 22, 4, 5, tzinfo=eastern), False)
    assert row["fetched_at"] == FETCHED_AT and row["fetched_at"].tzinfo == dt.timezone.utc


# ---------------------------------------------------------------------------------------------
# The models read only keys the vendor's spec defines (catches alias typos)
# ---------------------------------------------------------------------------------------------

SPEC_PATHS = {
    AggregateBar: "/v2/aggs/ticker/{stocksTicker}/range/{multiplier}/{timespan}/{from}/{to}",
    Dividend: "/v3/reference/dividends",
    StockSplit: "/v3/reference/splits",
    FinancialReport: "/vX/reference/financials",
    NewsArticle: "/v2/reference/news",
    OptionSnapshot: "/v3/snapshot/options/{underlyingAsset}",
    OptionContract: "/v3/reference/options/contracts",
    ReferenceTicker: "/v3/reference/tickers",
}


@lru_cache(maxsize=1)
def _spec() -> dict:
    return load_fixture("openapi.json")


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = _spec()["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in node:
        merged: dict = {"properties": {}}
        for part in node["allOf"]:
            part = _resolve(part)
            merged["properties"].update(part.get("properties", {}))
            merged.update({k: v for k, v in part.items() if k != "properties"})
        return merged
    return node


def _properties(node: dict) -> dict:
    node = _resolve(node)
    if node.get("type") == "array":
        node = _resolve(node["items"])
    return node.get("properties", {})


def _nested_model(annotation) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _nested_model(arg)
        if found:
            return found
    return None


def _check_against_spec(model: type[BaseModel], node: dict, where: str, problems: list[str]) -> None:
    props = _properties(node)
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key not in props:
            problems.append(f"{where}.{key}")
            continue
        nested = _nested_model(field.annotation)
        if nested is not None and _properties(props[key]):
            _check_against_spec(nested, props[key], f"{where}.{key}", problems)


@pytest.mark.parametrize("model", list(SPEC_PATHS), ids=lambda m: m.__name__)
def test_model_keys_exist_in_vendor_spec(model):
    response = _spec()["paths"][SPEC_PATHS[model]]["get"]["responses"]["200"]["content"]["application/json"]
    results = _properties(response["schema"])["results"]
    problems: list[str] = []
    _check_against_spec(model, results, model.__name__, problems)
    assert problems == [], f"keys not in the vendor spec: {problems}"
