"""Rejection behaviour of parse_records: garbage becomes readable, hashable rejects; nothing is
dropped silently; vendor quirks that are fine (int ids, int-valued numbers) are accepted."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json

import pytest

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
from enrichment_pipeline.polygon.parsing import (
    DATASET_MODELS,
    REFERENCE_MODELS,
    ParseResult,
    Reject,
    canonical_json,
    extract_results,
    parse_records,
    summarize_rejects,
)
from enrichment_pipeline.storage import schema
from enrichment_pipeline_tests.polygon import fixture_results

NAN, INF = float("nan"), float("inf")


def _first(name: str) -> dict:
    return fixture_results(name)[0]


BASE = {
    AggregateBar: lambda: _first("v2_aggs_ticker_AAPL_range_1_day_2005-04-01_2005-04-04.json"),
    Dividend: lambda: _first("openapi_examples/v3_reference_dividends.json"),
    StockSplit: lambda: _first("openapi_examples/v3_reference_splits.json"),
    FinancialReport: lambda: _first("vX_reference_financials.json"),
    NewsArticle: lambda: _first("v2_reference_news__ticker-NFLX.json"),
    OptionSnapshot: lambda: _first("v3_snapshot_options_AAPL.json"),
    OptionContract: lambda: _first("v3_reference_options_contracts__O-EVRI240119C00002500.json"),
    ReferenceTicker: lambda: _first("v3_reference_tickers.json"),
}

DELETE = object()


def _variant(model, path: str, value) -> dict:
    """The model's fixture record with ``path`` (dotted) set to ``value`` (or deleted)."""
    raw = copy.deepcopy(BASE[model]())
    *parents, leaf = path.split(".")
    node = raw
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return raw


def _reject_reason(model, raw) -> str:
    result = parse_records(model, [raw])
    assert result.valid == [], f"{model.__name__} accepted {raw!r}"
    (reject,) = result.rejects
    assert reject.raw is raw  # the raw record is kept as received
    return reject.reason


# (model, field path, bad value, expected substring of the reason)
BAD_VALUES = [
    # bars: prices must be finite JSON numbers, volume ≥ 0, required keys present
    (AggregateBar, "c", "abc", "c: Input should be a valid number (got 'abc')"),
    (AggregateBar, "c", "1.4604", "c: Input should be a valid number (got '1.4604')"),
    (AggregateBar, "c", NAN, "c: Input should be a finite number"),
    (AggregateBar, "o", INF, "o: Input should be a finite number"),
    (AggregateBar, "h", -INF, "h: Input should be a finite number"),
    (AggregateBar, "c", True, "c: Input should be a valid number"),
    (AggregateBar, "c", None, "c: Input should be a valid number"),
    (AggregateBar, "c", 0, "c: Input should be greater than 0"),
    (AggregateBar, "o", DELETE, "o: Field required"),
    (AggregateBar, "t", DELETE, "t: Field required"),
    (AggregateBar, "v", -1, "v: Input should be greater than or equal to 0"),
    (AggregateBar, "v", "642646396", "v: Input should be a valid number"),
    (AggregateBar, "t", "1112331600000", "t: Input should be a whole number"),
    (AggregateBar, "t", 1.5, "t: Input should be a whole number"),
    (AggregateBar, "t", 10**17, "t: Input should be less than or equal to"),
    (AggregateBar, "n", -3, "n: Input should be greater than or equal to 0"),
    (AggregateBar, "otc", "false", "otc: Input should be a valid boolean"),
    (AggregateBar, "l", 99.0, "low 99.0 is above high 1.5064"),
    # dividends
    (Dividend, "ex_dividend_date", "2021-13-45", "ex_dividend_date: Input should be a real calendar date"),
    (Dividend, "ex_dividend_date", "2021/11/05", "ex_dividend_date: Input should be a date in YYYY-MM-DD format"),
    (Dividend, "ex_dividend_date", 20211105, "ex_dividend_date: Input should be a date string"),
    (Dividend, "ex_dividend_date", DELETE, "ex_dividend_date: Field required"),
    (Dividend, "pay_date", "soon", "pay_date: Input should be a date in YYYY-MM-DD format"),
    (Dividend, "cash_amount", "0.22", "cash_amount: Input should be a valid number"),
    (Dividend, "cash_amount", -0.22, "cash_amount: Input should be greater than or equal to 0"),
    (Dividend, "cash_amount", NAN, "cash_amount: Input should be a finite number"),
    (Dividend, "dividend_type", "XX", "dividend_type: Input should be 'CD', 'SC', 'LT' or 'ST'"),
    (Dividend, "dividend_type", DELETE, "dividend_type: Field required"),
    (Dividend, "frequency", "4", "frequency: Input should be a whole number"),
    (Dividend, "currency", "DOLLARS", "currency: String should have at most 3 characters"),
    (Dividend, "id", True, "id: Input should be a string id, not a boolean"),
    (Dividend, "ticker", 7, "ticker: Input should be a valid string"),
    # splits: ratios strictly positive numbers
    (StockSplit, "split_from", 0, "split_from: Input should be greater than 0"),
    (StockSplit, "split_to", -4, "split_to: Input should be greater than 0"),
    (StockSplit, "split_to", "4", "split_to: Input should be a valid number"),
    (StockSplit, "split_to", DELETE, "split_to: Field required"),
    (StockSplit, "execution_date", "2020-02-30", "execution_date: Input should be a real calendar date"),
    # financials
    (FinancialReport, "fiscal_year", "20x2", "fiscal_year: Input should be a four-digit year"),
    (FinancialReport, "fiscal_year", 2022.0, "fiscal_year: Input should be a four-digit year"),
    (FinancialReport, "fiscal_year", DELETE, "fiscal_year: Field required"),
    (FinancialReport, "fiscal_period", "Q5", "fiscal_period: String should match pattern"),
    (FinancialReport, "filing_date", DELETE, "filing_date: Field required"),
    (FinancialReport, "start_date", "2022-01-32", "start_date: Input should be a real calendar date"),
    (FinancialReport, "start_date", "2022-05-01", "start 2022-05-01 is after end 2022-04-03"),
    (FinancialReport, "timeframe", "weekly", "timeframe: Input should be 'quarterly', 'annual' or 'ttm'"),
    (
        FinancialReport,
        "financials.income_statement.revenues.value",
        "3136000000",
        "financials.income_statement.revenues.value: Input should be a valid number",
    ),
    (
        FinancialReport,
        "financials.income_statement.basic_earnings_per_share.value",
        NAN,
        "financials.income_statement.basic_earnings_per_share.value: Input should be a finite number",
    ),
    # news
    (NewsArticle, "published_utc", "2022-04-28T17:08:00", "published_utc: Timestamp should carry a timezone"),
    (NewsArticle, "published_utc", "yesterday", "published_utc: Input should be an RFC 3339 timestamp"),
    (NewsArticle, "published_utc", 1651165680, "published_utc: Input should be an RFC 3339 timestamp string"),
    (NewsArticle, "published_utc", "2022-04-28", "published_utc: Input should be an RFC 3339 timestamp, not a date"),
    (NewsArticle, "title", DELETE, "title: Field required"),
    (NewsArticle, "title", "", "title: String should have at least 1 character"),
    (NewsArticle, "id", DELETE, "id: Field required"),
    (NewsArticle, "id", "x" * 200, "id: String should have at most 128 characters"),
    (NewsArticle, "tickers", "NFLX", "tickers: Input should be a valid list"),
    (
        NewsArticle,
        "insights",
        [{"ticker": "NFLX", "sentiment": "bullish", "sentiment_reasoning": "?"}],
        "insights.0.sentiment: Input should be 'positive', 'neutral' or 'negative'",
    ),
    # option snapshots
    (OptionSnapshot, "details.contract_type", "banana", "details.contract_type: Input should be 'call', 'put' or 'other'"),
    (OptionSnapshot, "details.strike_price", "150", "details.strike_price: Input should be a valid number"),
    (OptionSnapshot, "details.strike_price", 0, "details.strike_price: Input should be greater than 0"),
    (OptionSnapshot, "details.expiration_date", "2023-06-31", "details.expiration_date: Input should be a real calendar date"),
    (OptionSnapshot, "details.ticker", DELETE, "details.ticker: Field required"),
    (OptionSnapshot, "details", DELETE, "details: Field required"),
    (OptionSnapshot, "implied_volatility", NAN, "implied_volatility: Input should be a finite number"),
    (OptionSnapshot, "implied_volatility", -0.1, "implied_volatility: Input should be greater than or equal to 0"),
    (OptionSnapshot, "greeks.vega", "0.63", "greeks.vega: Input should be a valid number"),
    (OptionSnapshot, "day.close", INF, "day.close: Input should be a finite number"),
    (OptionSnapshot, "day.volume", -8, "day.volume: Input should be greater than or equal to 0"),
    (OptionSnapshot, "underlying_asset.price", "159.96", "underlying_asset.price: Input should be a valid number"),
    # option contracts and tickers
    (OptionContract, "contract_type", "x", "contract_type: Input should be 'call', 'put' or 'other'"),
    (OptionContract, "strike_price", -2.5, "strike_price: Input should be greater than 0"),
    (OptionContract, "exercise_style", "asian", "exercise_style: Input should be 'american', 'european' or 'bermudan'"),
    (OptionContract, "underlying_ticker", DELETE, "underlying_ticker: Field required"),
    (ReferenceTicker, "market", "bonds", "market: Input should be 'stocks', 'crypto', 'fx', 'otc' or 'indices'"),
    (ReferenceTicker, "active", "true", "active: Input should be a valid boolean"),
    (ReferenceTicker, "name", DELETE, "name: Field required"),
]


@pytest.mark.parametrize(
    "model, path, value, expected",
    BAD_VALUES,
    ids=[f"{m.__name__}-{p}-{'missing' if v is DELETE else repr(v)[:20]}" for m, p, v, _ in BAD_VALUES],
)
def test_garbage_is_rejected_with_a_readable_reason(model, path, value, expected):
    reason = _reject_reason(model, _variant(model, path, value))
    assert expected in reason
    assert len(reason) < 300
    assert "Value error" not in reason and "https://" not in reason


# (model, field path, accepted value, attribute getter, expected value)
ACCEPTED_QUIRKS = [
    (Dividend, "id", 12345, lambda m: m.vendor_id, "12345"),  # official client types ids as int
    (StockSplit, "id", 987, lambda m: m.vendor_id, "987"),
    (NewsArticle, "id", 42, lambda m: m.article_id, "42"),
    (Dividend, "id", DELETE, lambda m: m.vendor_id, None),
    (Dividend, "cash_amount", 1, lambda m: m.cash_amount, 1.0),  # int where spec says number
    (AggregateBar, "n", 82132.0, lambda m: m.transactions, 82132),  # integral float for an integer
    (AggregateBar, "vw", DELETE, lambda m: m.vwap, None),
    (AggregateBar, "n", DELETE, lambda m: m.transactions, None),
    (AggregateBar, "otc", True, lambda m: m.otc, True),
    (AggregateBar, "extra_unknown_key", "ignored", lambda m: m.close, 1.4604),
    (NewsArticle, "keywords", None, lambda m: m.keywords, []),
    (NewsArticle, "publisher", DELETE, lambda m: m.publisher, None),
    (FinancialReport, "fiscal_year", 2022, lambda m: m.fiscal_year, 2022),
    (FinancialReport, "end_date", "20220403", lambda m: m.end_date, dt.date(2022, 4, 3)),
    (FinancialReport, "financials.income_statement.revenues", DELETE, lambda m: m.revenue, None),
    (OptionSnapshot, "greeks", DELETE, lambda m: m.greeks, None),
    (OptionSnapshot, "implied_volatility", DELETE, lambda m: m.implied_volatility, None),
    (OptionSnapshot, "day", {}, lambda m: m.day.close, None),
    (OptionSnapshot, "details.contract_type", "other", lambda m: m.details.contract_type, "other"),
]


@pytest.mark.parametrize("model, path, value, getter, expected", ACCEPTED_QUIRKS)
def test_acceptable_vendor_quirks(model, path, value, getter, expected):
    result = parse_records(model, [_variant(model, path, value)])
    assert result.rejects == [], [r.reason for r in result.rejects]
    assert getter(result.valid[0]) == expected


@pytest.mark.parametrize("model", sorted(set(DATASET_MODELS.values()) | set(REFERENCE_MODELS.values()), key=str))
@pytest.mark.parametrize("error", ["NOT_FOUND", "NOT_ENTITLED"])
def test_vendor_error_items_are_rejects(model, error):
    item = {"error": error, "message": "Ticker not found.", "ticker": "O:AAPL230616C00999000"}
    reason = _reject_reason(model, item)
    assert reason == f"vendor error item {error}: Ticker not found. (ticker O:AAPL230616C00999000)"


def test_snapshot_chain_with_error_items_keeps_the_good_ones():
    good = BASE[OptionSnapshot]()
    bad = {"error": "NOT_FOUND", "message": "Ticker not found.", "ticker": "O:AAPL230616C00999000"}
    result = parse_records(OptionSnapshot, [good, bad, good])
    assert len(result.valid) == 2 and len(result.rejects) == 1
    assert "NOT_FOUND" in result.rejects[0].reason


def test_nothing_is_dropped_and_order_is_kept():
    good = BASE[AggregateBar]()
    raws = [good, _variant(AggregateBar, "c", "abc"), "not an object", None, [1, 2], good, {}]
    result = parse_records(AggregateBar, raws)
    assert result.total == len(raws)
    assert len(result.valid) == 2
    assert [r.raw for r in result.rejects] == [raws[1], "not an object", None, [1, 2], {}]
    assert result.rejects[1].reason == "record is not a JSON object (got str)"
    assert result.rejects[2].reason == "record is not a JSON object (got NoneType)"
    assert result.rejects[3].reason == "record is not a JSON object (got list)"
    assert "o: Field required" in result.rejects[4].reason


def test_many_errors_are_capped_in_the_reason():
    result = parse_records(AggregateBar, [{"t": "x", "n": "y", "otc": "z"}])
    reason = result.rejects[0].reason
    assert reason.count(";") == 5 and reason.endswith("(+3 more)")


def test_long_inputs_are_truncated_in_the_reason():
    reason = _reject_reason(AggregateBar, _variant(AggregateBar, "c", "9" * 1000))
    assert len(reason) < 100 and reason.endswith("...)")


def test_parse_records_accepts_single_object_and_none():
    one = parse_records(OptionContract, BASE[OptionContract]())
    assert len(one.valid) == 1
    empty = parse_records(OptionContract, None)
    assert empty.valid == [] and empty.rejects == [] and isinstance(empty, ParseResult)


def test_generator_input_is_consumed_once():
    raws = (BASE[StockSplit]() for _ in range(3))
    assert len(parse_records(StockSplit, raws).valid) == 3


# ---------------------------------------------------------------------------------------------
# Hashes
# ---------------------------------------------------------------------------------------------


def test_record_hash_is_sha256_of_canonical_json():
    raw = {"b": 1, "a": [1.5, "x"], "c": {"z": None, "y": "é"}}
    expected_json = '{"a":[1.5,"x"],"b":1,"c":{"y":"é","z":null}}'
    assert canonical_json(raw) == expected_json
    reject = Reject(raw=raw, reason="r")
    assert reject.record_hash == hashlib.sha256(expected_json.encode("utf-8")).hexdigest()
    assert len(reject.record_hash) == 64 and int(reject.record_hash, 16) >= 0


def test_record_hash_is_stable_and_independent_of_key_order_and_reason():
    raw = _variant(AggregateBar, "c", "abc")
    reordered = dict(reversed(list(raw.items())))
    first = parse_records(AggregateBar, [raw]).rejects[0]
    again = parse_records(AggregateBar, [reordered]).rejects[0]
    assert first.record_hash == again.record_hash == Reject(raw=raw, reason="other").record_hash
    other = parse_records(AggregateBar, [_variant(AggregateBar, "c", "abd")]).rejects[0]
    assert other.record_hash != first.record_hash


def test_record_hash_handles_nan():
    reject = parse_records(AggregateBar, [_variant(AggregateBar, "c", NAN)]).rejects[0]
    assert reject.record_hash == parse_records(AggregateBar, [_variant(AggregateBar, "c", NAN)]).rejects[0].record_hash
    assert '"c":NaN' in reject.payload


def test_reject_row_fits_rejected_records_table():
    reject = parse_records(Dividend, [_variant(Dividend, "cash_amount", "x")]).rejects[0]
    now = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
    row = reject.to_row("dividends", "AAPL", now, endpoint="/v3/reference/dividends?ticker=AAPL", run_id="r1")
    table = schema.metadata.tables["rejected_records"]
    assert set(row) == set(table.columns.keys())
    assert all(row[c.name] is not None for c in table.columns if not c.nullable)
    assert json.loads(row["payload"]) == reject.raw
    assert row["record_hash"] == reject.record_hash


# ---------------------------------------------------------------------------------------------
# Summaries and envelopes
# ---------------------------------------------------------------------------------------------


def test_summarize_rejects():
    raws = [_variant(AggregateBar, "c", "abc")] * 4 + [_variant(AggregateBar, "v", -1), {"o": "x" * 1000}]
    rejects = parse_records(AggregateBar, raws).rejects
    summary = summarize_rejects(rejects, limit=3)
    assert summary["count"] == 6
    assert len(summary["examples"]) == 3
    assert summary["examples"][0]["reason"].startswith("c: Input should be a valid number")
    assert summary["examples"][0]["record_hash"] == rejects[0].record_hash
    assert summary["top_reasons"][0]["count"] == 4
    assert len(summary["top_reasons"]) == 3
    json.dumps(summary)  # fit for Dagster metadata
    big = summarize_rejects(rejects[-1:], limit=3)
    assert len(big["examples"][0]["payload"]) == 300
    assert summarize_rejects([]) == {"count": 0, "top_reasons": [], "examples": []}


def test_extract_results():
    assert extract_results({"results": [1, 2]}) == [1, 2]
    assert extract_results({"results": {"a": 1}}) == [{"a": 1}]
    assert extract_results({"status": "OK"}) == []
    assert extract_results({"results": None}) == []
    with pytest.raises(ValueError, match="list or an object"):
        extract_results({"results": "x"})
    with pytest.raises(ValueError, match="JSON object"):
        extract_results([1])


def test_dataset_models_mapping():
    assert DATASET_MODELS == {
        "market_data": AggregateBar,
        "dividends": Dividend,
        "stock_splits": StockSplit,
        "earnings": FinancialReport,
        "news": NewsArticle,
        "options_iv": OptionSnapshot,
    }
    assert REFERENCE_MODELS == {"options_contracts": OptionContract, "tickers": ReferenceTicker}
