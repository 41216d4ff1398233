"""The simulated market: deterministic, causal, on trading days, internally consistent."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys

import httpx
import numpy as np
import pytest

from enrichment_pipeline import calendar
from enrichment_pipeline.analytics.option_chain import year_fraction as analytics_year_fraction
from enrichment_pipeline.analytics.options import bsm_price
from enrichment_pipeline.simulator import financials, market, news, option_chain

from .conftest import AS_OF

NY = "America/New_York"


def _hist(symbol: str) -> market.History:
    return market.history(symbol, AS_OF)


def _bar_dates(bars: list[dict]) -> list[dt.date]:
    import pandas as pd

    return [d.date() for d in pd.to_datetime([b["t"] for b in bars], unit="ms", utc=True).tz_convert(NY)]


# ---- determinism -------------------------------------------------------------------------------


def test_same_symbol_same_data_different_symbols_differ() -> None:
    a = _hist("AAPL")
    fresh = market._generate("AAPL", a.n)  # bypass the cache
    for field in ("open", "high", "low", "close", "vwap", "volume", "transactions", "factor_after"):
        np.testing.assert_array_equal(getattr(a, field), getattr(fresh, field))
    assert a.splits == fresh.splits and a.dividends == fresh.dividends
    b = _hist("MSFT")
    assert not np.allclose(a.close, b.close)
    assert market.profile("AAPL").name != market.profile("MSFT").name


def test_seed_is_independent_of_python_hash_randomisation() -> None:
    code = (
        "from enrichment_pipeline.simulator import market; import datetime as dt;"
        "h = market.history('AAPL', dt.date(2025, 6, 27)); print(repr(float(h.close.sum())), h.splits[0].id)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    h = _hist("AAPL")
    assert out == [repr(float(h.close.sum())), h.splits[0].id]


def test_history_is_causal_past_never_changes() -> None:
    """A shorter history (an earlier 'today') is a prefix of a longer one: raw data never changes."""
    long = _hist("NFLX")
    short = market.history("NFLX", dt.date(2016, 3, 15))
    k = short.n
    for field in ("open", "high", "low", "close", "vwap", "volume", "transactions", "sigma"):
        np.testing.assert_array_equal(getattr(long, field)[:k], getattr(short, field)[:k])
    assert list(long.dividends[: len(short.dividends)]) == list(short.dividends)
    assert [s for s in long.splits if s.execution_index < k] == list(short.splits)


def test_generation_is_fast() -> None:
    import time

    n = _hist("AAPL").n
    started = time.perf_counter()
    for i in range(20):
        market._generate(f"SPEED{i}", n)
    assert (time.perf_counter() - started) / 20 < 0.05  # a few ms normally; generous for slow CI


# ---- bars --------------------------------------------------------------------------------------


def test_bars_only_on_trading_days(client: httpx.Client) -> None:
    bars = client.get("/v2/aggs/ticker/AAPL/range/1/day/2023-01-01/2024-12-31?limit=5000").json()["results"]
    assert _bar_dates(bars) == calendar.trading_days("2023-01-01", "2024-12-31")
    assert all(b["t"] == int(b["t"]) and isinstance(b["n"], int) for b in bars)


def test_no_bars_after_the_latest_session(client: httpx.Client) -> None:
    bars = client.get("/v2/aggs/ticker/AAPL/range/1/day/2025-06-01/2025-12-31").json()["results"]
    assert _bar_dates(bars)[-1] == AS_OF


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT", "KO", "NFLX", "S1", "S2", "BRK.B"])
@pytest.mark.parametrize("adjusted", [False, True])
def test_ohlc_consistent(symbol: str, adjusted: bool) -> None:
    h = _hist(symbol)
    b = h.bars(0, h.n, adjusted)
    assert (b["l"] > 0).all()
    assert (b["l"] <= np.minimum(b["o"], b["c"])).all()
    assert (b["h"] >= np.maximum(b["o"], b["c"])).all()
    assert ((b["vw"] >= b["l"]) & (b["vw"] <= b["h"])).all()
    assert (b["v"] > 0).all() and (b["n"] >= 1).all()
    assert b["n"].dtype.kind == "i"


def _split_symbol(ratio_filter) -> tuple[str, market.Split]:
    for i in range(200):
        symbol = f"SPL{i}"
        for split in _hist(symbol).splits:
            if ratio_filter(split) and split.execution_date.year >= 2005:
                return symbol, split
    raise AssertionError("no split found")


@pytest.mark.parametrize("kind", ["forward", "reverse"])
def test_split_in_raw_prices_gone_in_adjusted(client: httpx.Client, kind: str) -> None:
    symbol, split = _split_symbol((lambda s: s.ratio > 1) if kind == "forward" else (lambda s: s.ratio < 1))
    day = split.execution_date
    window = f"{day - dt.timedelta(days=10)}/{day + dt.timedelta(days=10)}"
    raw = client.get(f"/v2/aggs/ticker/{symbol}/range/1/day/{window}?adjusted=false").json()["results"]
    adj = client.get(f"/v2/aggs/ticker/{symbol}/range/1/day/{window}").json()["results"]
    i = _bar_dates(raw).index(day)
    raw_jump = raw[i]["o"] / raw[i - 1]["c"]
    adj_jump = adj[i]["o"] / adj[i - 1]["c"]
    assert abs(np.log(raw_jump * split.ratio)) < 0.1, (raw_jump, split)  # jumps by the ratio
    assert abs(np.log(adj_jump)) < 0.1  # continuous once adjusted
    # before the split: adjusted = raw / (ratios of this and later splits), volume × the same factor
    factor = float(np.prod([s.ratio for s in _hist(symbol).splits if s.execution_date >= day]))
    assert adj[i - 1]["c"] == pytest.approx(raw[i - 1]["c"] / factor, abs=1e-4)
    assert adj[i - 1]["v"] == pytest.approx(raw[i - 1]["v"] * factor, rel=1e-9)
    # after the last split adjusted and raw agree
    last = client.get(f"/v2/aggs/ticker/{symbol}/range/1/day/{AS_OF}/{AS_OF}?adjusted=false").json()["results"][0]
    assert last == client.get(f"/v2/aggs/ticker/{symbol}/range/1/day/{AS_OF}/{AS_OF}").json()["results"][0]
    listed = client.get(f"/v3/reference/splits?ticker={symbol}&execution_date={day}").json()["results"]
    assert listed == [split.record()]


def test_every_symbol_has_splits() -> None:
    counts = [len(_hist(f"CNT{i}").splits) for i in range(40)]
    assert min(counts) >= 1 and np.mean(counts) >= 2


# ---- dividends ---------------------------------------------------------------------------------


def test_dividends_quarterly_and_consistent() -> None:
    payers = [s for s in (f"DIV{i}" for i in range(40)) if _hist(s).dividends]
    assert 10 < len(payers) < 40, "most symbols pay, some never do"
    sessions = set(calendar.trading_days("2000-01-03", "2026-12-31"))
    for symbol in payers[:8]:
        rows = [r for r in _hist(symbol).dividends if r["dividend_type"] == "CD"]
        ex = [dt.date.fromisoformat(r["ex_dividend_date"]) for r in rows]
        gaps = np.diff([d.toordinal() for d in ex])
        assert ((gaps > 75) & (gaps < 105)).all(), gaps
        ids = [r["id"] for r in _hist(symbol).dividends]
        assert len(set(ids)) == len(ids) and all(isinstance(i, str) for i in ids)
        for r in rows:
            ex_day = dt.date.fromisoformat(r["ex_dividend_date"])
            record = dt.date.fromisoformat(r["record_date"])
            assert ex_day in sessions and record == calendar.session_on_or_after(ex_day + dt.timedelta(days=1))
            assert 14 <= (dt.date.fromisoformat(r["pay_date"]) - record).days <= 30
            assert 10 <= (ex_day - dt.date.fromisoformat(r["declaration_date"])).days <= 32
            assert dt.date.fromisoformat(r["declaration_date"]) <= AS_OF
            assert r["frequency"] == 4 and r["currency"] == "USD" and r["cash_amount"] > 0


# ---- financials and news -----------------------------------------------------------------------


def test_financials_shape_and_timing() -> None:
    rows = financials.financials("AAPL", AS_OF)
    quarterly = [r for r in rows if r["timeframe"] == "quarterly"]
    annual = [r for r in rows if r["timeframe"] == "annual"]
    assert len(quarterly) > 40 and len(annual) == len(quarterly) // 4
    assert {r["fiscal_period"] for r in quarterly} == {"Q1", "Q2", "Q3", "Q4"}
    for r in rows:
        lag = (dt.date.fromisoformat(r["filing_date"]) - dt.date.fromisoformat(r["end_date"])).days
        assert 30 <= lag <= 50 and dt.date.fromisoformat(r["filing_date"]) <= AS_OF
        eps = r["financials"]["income_statement"]["diluted_earnings_per_share"]
        assert eps["unit"] == "USD / shares" and isinstance(r["fiscal_year"], str)
        assert set(r["financials"]["income_statement"]["revenues"]) == {"label", "order", "unit", "value"}


def test_news_weekends_insights_and_determinism() -> None:
    until = news.news_until(AS_OF)
    feed = news.feed("AAPL", until, AS_OF)
    assert 2.0 < len(feed) / ((until - 946_857_600) / (7 * 86400)) < 4.0  # about three a week
    articles = [news.article(feed, i) for i in range(len(feed) - 300, len(feed))]
    weekdays = {dt.datetime.fromisoformat(a["published_utc"].replace("Z", "+00:00")).weekday() for a in articles}
    assert {5, 6} & weekdays
    assert any("insights" not in a for a in articles) and any("insights" in a for a in articles)
    assert any(len(a["tickers"]) > 1 for a in articles)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["published_utc"]) for a in articles)
    assert articles == [news.article(news.feed("AAPL", until, AS_OF), i) for i in range(len(feed) - 300, len(feed))]


# ---- options -----------------------------------------------------------------------------------


def test_expirations_third_friday_or_session_before() -> None:
    e = option_chain.expirations()
    monthly = [market.ordinal_to_date(o) for o in e.ordinal[e.monthly]]
    assert dt.date(2025, 4, 17) in monthly  # 2025-04-18 was Good Friday
    assert dt.date(2024, 6, 21) in monthly
    for day in monthly:
        assert calendar.is_trading_day(day)
        assert 14 <= day.day <= 21 and day.weekday() in (3, 4)


def test_chain_around_spot_with_calls_and_puts(client: httpx.Client) -> None:
    h = _hist("AAPL")
    spot = float(h.close[-1])
    chain = option_chain.chain("AAPL", h.n - 1, AS_OF)
    strikes = chain.strike_milli / 1000.0
    assert strikes.min() <= spot * 0.75 and strikes.max() >= spot * 1.25
    assert chain.is_call.sum() == (~chain.is_call).sum()
    expiries = sorted(set(market.ordinal_to_iso(chain.expiration_ordinal)))
    assert 8 <= len(expiries) <= 12 and expiries[-1] > str(AS_OF + dt.timedelta(days=150))
    for i in range(0, len(chain), 37):
        assert re.fullmatch(r"O:AAPL\d{6}[CP]\d{8}", chain.ticker(i))


def test_option_bars_equal_bsm_of_their_inputs(client: httpx.Client) -> None:
    contracts = client.get("/v3/reference/options/contracts?underlying_ticker=KO&as_of=2024-10-01&limit=1000").json()["results"]
    checked = 0
    for record in contracts[::25]:
        key = option_chain.parse_ticker(record["ticker"])
        bars = client.get(f"/v2/aggs/ticker/{record['ticker']}/range/1/day/2024-01-01/2025-06-27").json().get("results", [])
        for bar, day in list(zip(bars, _bar_dates(bars)))[::5]:
            assert day <= key.expiration
            inputs = option_chain.option_inputs("KO", key, day, AS_OF)
            assert inputs["spot"] == client.get(f"/v2/aggs/ticker/KO/range/1/day/{day}/{day}?adjusted=false").json()["results"][0]["c"]
            price = float(bsm_price(**inputs))
            assert abs(bar["c"] - max(price, 0.01)) <= 0.005 + 1e-9, (record["ticker"], day, bar, price)
            assert bar["l"] <= min(bar["o"], bar["c"]) and bar["h"] >= max(bar["o"], bar["c"])
            checked += 1
    assert checked > 20


def test_snapshot_iv_and_greeks_consistent_with_price(client: httpx.Client) -> None:
    rows = [r for page in _all_snapshot(client, "AAPL") for r in page]
    with_iv = [r for r in rows if "implied_volatility" in r]
    assert 0 < len(rows) - len(with_iv) < len(rows) / 2  # some deep ITM contracts lack greeks/IV
    for r in with_iv:
        d = r["details"]
        t = float(analytics_year_fraction(AS_OF, d["expiration_date"]))  # the project's convention
        assert t == option_chain.year_fraction(AS_OF, dt.date.fromisoformat(d["expiration_date"])) > 0
        price = float(bsm_price(r["underlying_asset"]["price"], d["strike_price"], t, option_chain.RISK_FREE_RATE,
                                option_chain.DIVIDEND_YIELD, r["implied_volatility"], d["contract_type"] == "call"))
        assert abs(r["day"]["close"] - max(price, 0.01)) <= 0.005 + 1e-9
        g = r["greeks"]
        assert (0 <= g["delta"] <= 1) if d["contract_type"] == "call" else (-1 <= g["delta"] <= 0)
        assert g["gamma"] >= 0 and g["vega"] >= 0 and 0.03 < r["implied_volatility"] < 3.5
    for r in rows:
        assert r["underlying_asset"]["price"] == _hist("AAPL").close[-1]
        assert r["last_quote"]["bid"] <= r["last_quote"]["midpoint"] <= r["last_quote"]["ask"]


def _all_snapshot(client: httpx.Client, symbol: str) -> list[list[dict]]:
    pages, url = [], f"/v3/snapshot/options/{symbol}?limit=250"
    while url:
        body = client.get(url).json()
        pages.append(body["results"])
        url = body.get("next_url")
    return pages


def test_snapshot_close_matches_the_days_option_bar(client: httpx.Client) -> None:
    rows = [r for r in _all_snapshot(client, "MSFT")[0] if r["day"]["volume"] > 0][:10]
    assert rows
    for r in rows:
        bars = client.get(f"/v2/aggs/ticker/{r['details']['ticker']}/range/1/day/{AS_OF}/{AS_OF}").json()["results"]
        assert bars[0]["c"] == r["day"]["close"] and bars[0]["v"] == r["day"]["volume"]
