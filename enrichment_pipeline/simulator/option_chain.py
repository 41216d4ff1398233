"""Simulated listed options: contracts, daily option bars and the chain snapshot.

Listing rules (the same for every symbol):

* Monthly expirations on the third Friday (the session before when that Friday is a holiday),
  listed 190 calendar days ahead, so about six monthlies are open at any time. Weekly
  expirations on the other Fridays from 2010 on, listed 31 days ahead (about four weeklies).
* Strikes are multiples of an increment chosen from the underlying's raw price on the listing
  day ($0.50 under $20, $1 under $50, $2.50 under $150, $5 under $400, $10 under $1000, else
  $25). An expiration lists every strike within ±30 % of the lowest/highest close seen since it
  was listed; once listed a strike stays until expiry. Calls and puts for every strike.
* Contracts are not adjusted for splits: after a split the chain simply lists strikes around the
  new raw price; older strikes keep trading and are priced from the new raw spot.

Prices: Black–Scholes–Merton (``analytics.options.bsm_price``) on the underlying's *raw* prices
with ``r = RISK_FREE_RATE``, ``q = DIVIDEND_YIELD`` and ``t = year_fraction(day, expiry)``
(ACT/365 from close to close, the convention of ``analytics.option_chain``: 0 on the expiration
day, when a contract is worth its intrinsic value). Volatility is the stock's volatility regime of that day times a
per-symbol premium, with a term structure and a smile/skew in log-moneyness. The daily close is
the BSM value at the underlying's close rounded to the cent (at least $0.01); open/high/low use
the underlying's open/high/low. Far-from-the-money contracts trade less and may have no bar on
a given day (deterministic noise keyed by contract and day).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from enrichment_pipeline.analytics.options import bsm_price, greeks
from enrichment_pipeline.simulator import market

__all__ = [
    "RISK_FREE_RATE",
    "DIVIDEND_YIELD",
    "SHARES_PER_CONTRACT",
    "Contracts",
    "OptionKey",
    "expirations",
    "year_fraction",
    "option_root",
    "format_ticker",
    "parse_ticker",
    "chain",
    "contracts_between",
    "contract_life",
    "single_contract",
    "snapshot_record",
    "contract_record",
    "option_bars",
    "option_inputs",
    "snapshot",
]

RISK_FREE_RATE = 0.04  # continuously compounded, annual
DIVIDEND_YIELD = 0.0  # continuous dividend yield used for option prices
SHARES_PER_CONTRACT = 100
MONTHLY_LISTING_DAYS = 190
WEEKLY_LISTING_DAYS = 31
WEEKLIES_FROM = dt.date(2010, 1, 1)
STRIKE_BAND = 0.30
_TICKER = re.compile(r"^O:([A-Z]+)(\d{2})(\d{2})(\d{2})([CP])(\d{8})$")


def option_root(symbol: str) -> str:
    """The OCC root of an underlying: its letters (``BRK.B`` -> ``BRKB``)."""
    return re.sub(r"[^A-Z]", "", symbol)


def format_ticker(root: str, expiration: dt.date, is_call: bool, strike_milli: int) -> str:
    return f"O:{root}{expiration:%y%m%d}{'C' if is_call else 'P'}{int(strike_milli):08d}"


@dataclass(frozen=True)
class OptionKey:
    root: str
    expiration: dt.date
    is_call: bool
    strike_milli: int

    @property
    def strike(self) -> float:
        return self.strike_milli / 1000.0


def parse_ticker(ticker: str) -> OptionKey | None:
    """``O:AAPL230616C00150000`` -> its parts; None when the text is not a standard ticker."""
    m = _TICKER.fullmatch(ticker or "")
    if not m:
        return None
    root, yy, mm, dd, kind, strike = m.groups()
    try:
        expiration = dt.date(2000 + int(yy), int(mm), int(dd))
    except ValueError:
        return None
    if int(strike) == 0:
        return None
    return OptionKey(root, expiration, kind == "C", int(strike))


def year_fraction(day: dt.date | np.ndarray, expiration: dt.date | np.ndarray) -> float | np.ndarray:
    """Years from the close of ``day`` to the close of ``expiration``: calendar days / 365 (0 on
    the expiration day), as ``analytics.option_chain.year_fraction``. Accepts dates or arrays of
    day ordinals."""
    if isinstance(expiration, dt.date):
        return max((expiration - day).days, 0) / 365.0
    return np.maximum(np.asarray(expiration) - np.asarray(day), 0) / 365.0


# --------------------------------------------------------------------------------------------
# Expirations and strikes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expirations:
    index: np.ndarray  # session index of the expiration, ascending
    ordinal: np.ndarray  # day ordinal (days since 1970) of the expiration
    list_index: np.ndarray  # session index of the listing day
    monthly: np.ndarray  # bool

    def position(self, day: dt.date) -> int | None:
        ordinal = (day - dt.date(1970, 1, 1)).days
        i = int(np.searchsorted(self.ordinal, ordinal))
        return i if i < len(self.ordinal) and self.ordinal[i] == ordinal else None


@lru_cache(maxsize=1)
def expirations() -> Expirations:
    sess = market.sessions()
    first, last = sess.date(0), sess.date(len(sess) - 1)
    fridays = np.arange(
        np.datetime64(first) + ((4 - first.weekday()) % 7), np.datetime64(last) + 1, 7, dtype="datetime64[D]"
    )
    day_of_month = (fridays - fridays.astype("datetime64[M]")).astype(np.int64) + 1
    third = (day_of_month >= 15) & (day_of_month <= 21)
    weekly = ~third & (fridays >= np.datetime64(WEEKLIES_FROM))
    chosen = fridays[third | weekly]
    monthly = third[third | weekly]
    index = np.searchsorted(sess.ordinals, chosen.astype(np.int64), side="right") - 1  # holiday -> session before
    listing_days = np.where(monthly, MONTHLY_LISTING_DAYS, WEEKLY_LISTING_DAYS)
    list_index = np.searchsorted(sess.ordinals, chosen.astype(np.int64) - listing_days, side="left")
    keep = index >= 0
    index, monthly, list_index = index[keep], monthly[keep], list_index[keep]
    return Expirations(index=index, ordinal=sess.ordinals[index], list_index=list_index, monthly=monthly)


def strike_increment_milli(spot: float) -> int:
    for limit, step in ((20, 500), (50, 1000), (150, 2500), (400, 5000), (1000, 10000)):
        if spot < limit:
            return step
    return 25000


def _strike_bounds(closes: np.ndarray, increment: int) -> tuple[np.ndarray, np.ndarray]:
    """Per day, the lowest and highest listed strike (milli) given closes since the listing day."""
    low = np.minimum.accumulate(closes) * (1.0 - STRIKE_BAND) * 1000.0
    high = np.maximum.accumulate(closes) * (1.0 + STRIKE_BAND) * 1000.0
    lo = np.maximum(np.ceil(low / increment) * increment, increment).astype(np.int64)
    hi = (np.floor(high / increment) * increment).astype(np.int64)
    return lo, hi


@dataclass(frozen=True, eq=False)
class Contracts:
    """Contracts of one underlying, sorted like their tickers (expiry, call before put, strike)."""

    symbol: str
    exp_pos: np.ndarray  # position in ``expirations()``
    strike_milli: np.ndarray  # int64
    is_call: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.strike_milli)

    @property
    def expiration_ordinal(self) -> np.ndarray:
        return expirations().ordinal[self.exp_pos]

    def ticker(self, i: int) -> str:
        e = expirations()
        return format_ticker(
            option_root(self.symbol), market.ordinal_to_date(e.ordinal[self.exp_pos[i]]),
            bool(self.is_call[i]), int(self.strike_milli[i]),
        )

    def take(self, selector: np.ndarray) -> Contracts:
        return Contracts(self.symbol, self.exp_pos[selector], self.strike_milli[selector], self.is_call[selector])


def _strikes_for(hist: market.History, pos: int, day: int) -> np.ndarray:
    e = expirations()
    start = int(e.list_index[pos])
    increment = strike_increment_milli(float(hist.close[start]))
    lo, hi = _strike_bounds(hist.close[start : day + 1], increment)
    return np.arange(lo[-1], hi[-1] + 1, increment, dtype=np.int64)


def _assemble(symbol: str, hist: market.History, positions: np.ndarray, day_of: np.ndarray) -> Contracts:
    exp_pos, strikes, calls = [], [], []
    for pos, day in zip(positions.tolist(), day_of.tolist()):
        k = _strikes_for(hist, pos, day)
        for is_call in (True, False):
            exp_pos.append(np.full(len(k), pos, dtype=np.int64))
            strikes.append(k)
            calls.append(np.full(len(k), is_call))
    if not exp_pos:
        empty = np.zeros(0, dtype=np.int64)
        return Contracts(symbol, empty, empty, np.zeros(0, dtype=bool))
    return Contracts(symbol, np.concatenate(exp_pos), np.concatenate(strikes), np.concatenate(calls))


@lru_cache(maxsize=512)
def _chain(symbol: str, n: int, day: int) -> Contracts:
    hist = market.history_of_length(symbol, n)
    e = expirations()
    active = np.nonzero((e.list_index <= day) & (e.index >= day))[0]
    return _assemble(symbol, hist, active, np.full(len(active), day))


def chain(symbol: str, day: int, as_of: dt.date | None = None) -> Contracts:
    """Contracts listed and not expired on session index ``day`` (<= the history's last day)."""
    hist = market.history(symbol, as_of)
    return _chain(symbol, hist.n, min(day, hist.n - 1))


@lru_cache(maxsize=16)  # up to a few MB each (every expired contract)
def _between(symbol: str, n: int, first_ordinal: int, last_ordinal: int) -> Contracts:
    hist = market.history_of_length(symbol, n)
    e = expirations()
    sel = np.nonzero((e.ordinal >= first_ordinal) & (e.ordinal <= last_ordinal) & (e.list_index < n))[0]
    return _assemble(symbol, hist, sel, np.minimum(e.index[sel], n - 1))


def contracts_between(symbol: str, first_ordinal: int, last_ordinal: int, as_of: dt.date | None = None) -> Contracts:
    """Every contract that expired or expires within the ordinal range and was listed by the
    history's last day (strikes as listed over its whole life so far)."""
    return _between(symbol, market.history(symbol, as_of).n, int(first_ordinal), int(last_ordinal))


def single_contract(symbol: str, key: OptionKey, as_of: dt.date | None = None) -> Contracts | None:
    """The contract ``key`` as a one-row ``Contracts``, or None if it was never listed."""
    if contract_life(symbol, key, as_of) is None:
        return None
    pos = expirations().position(key.expiration)
    return Contracts(
        symbol, np.array([pos], dtype=np.int64), np.array([key.strike_milli], dtype=np.int64), np.array([key.is_call])
    )


def contract_life(symbol: str, key: OptionKey, as_of: dt.date | None = None) -> tuple[int, int] | None:
    """Session indices (first, last) on which the contract is listed, up to the history's end;
    None if the contract never exists."""
    hist = market.history(symbol, as_of)
    e = expirations()
    pos = e.position(key.expiration)
    if pos is None or e.list_index[pos] >= hist.n:
        return None
    start = int(e.list_index[pos])
    end = int(min(e.index[pos], hist.n - 1))
    increment = strike_increment_milli(float(hist.close[start]))
    if key.strike_milli % increment:
        return None
    lo, hi = _strike_bounds(hist.close[start : end + 1], increment)
    inside = (key.strike_milli >= lo) & (key.strike_milli <= hi)
    if not inside.any():
        return None
    return start + int(np.argmax(inside)), end


# --------------------------------------------------------------------------------------------
# Prices
# --------------------------------------------------------------------------------------------


def _sigma(p: market.Profile, regime: np.ndarray, spot: np.ndarray, strike: np.ndarray, t: np.ndarray) -> np.ndarray:
    atm = regime * p.option_vol_premium * np.clip(1.0 + p.option_term_slope * (np.sqrt(t) - 0.5), 0.7, 1.3)
    x = np.log(strike / spot) / np.sqrt(np.maximum(t, 1.0 / 52.0))
    smile = 1.0 - p.option_skew * x + p.option_smile * x * x
    return np.clip(atm * smile, np.maximum(0.5 * atm, 0.05), np.minimum(3.0 * atm, 3.0))


def _round_option(values: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(values, 2), 0.01)


def _price_days(
    symbol: str, hist: market.History, exp_ordinal: np.ndarray, strike_milli: np.ndarray, is_call: np.ndarray, day: np.ndarray
) -> dict[str, np.ndarray]:
    """Model values for (contract, session index) rows; all arguments are aligned arrays."""
    p = market.profile(symbol)
    sess = market.sessions()
    day_ordinal = sess.ordinals[day]
    strike = strike_milli / 1000.0
    t = year_fraction(day_ordinal, exp_ordinal)
    spot = hist.close[day]
    sigma = _sigma(p, hist.sigma[day], spot, strike, t)
    r, q = RISK_FREE_RATE, DIVIDEND_YIELD
    model_close = np.asarray(bsm_price(spot, strike, t, r, q, sigma, is_call), dtype=np.float64)
    at_open = np.asarray(bsm_price(hist.open[day], strike, t, r, q, sigma, is_call), dtype=np.float64)
    at_high = np.asarray(bsm_price(hist.high[day], strike, t, r, q, sigma, is_call), dtype=np.float64)
    at_low = np.asarray(bsm_price(hist.low[day], strike, t, r, q, sigma, is_call), dtype=np.float64)
    c = _round_option(model_close)
    o = _round_option(at_open)
    h = np.maximum.reduce([_round_option(np.where(is_call, at_high, at_low)), o, c])
    low = np.minimum.reduce([_round_option(np.where(is_call, at_low, at_high)), o, c])

    keys = (p.seed, exp_ordinal, strike_milli, is_call.astype(np.int64), day_ordinal)
    distance = np.abs(np.log(strike / spot)) / (sigma * np.sqrt(np.maximum(t, 7.0 / 365.0)))
    liquidity = np.clip(1.1 * np.exp(-0.5 * (distance / 1.6) ** 2), 0.05, 1.0)
    traded = market.hash_uniform(*keys, 7) < liquidity
    base = hist.volume[day] / 20000.0 * (1.0 + 1.5 * (t < 0.1))
    volume = np.maximum(np.round(base * liquidity**2 * np.exp(0.8 * market.hash_normal(*keys, 8))), 1).astype(np.int64)
    vwap = np.round(np.clip((o + h + low + c) / 4.0 * (1.0 + 0.02 * market.hash_normal(*keys, 9)), low, h), 4)
    vwap = np.clip(vwap, low, h)
    trades = np.maximum(volume // (1 + (market.hash_uniform(*keys, 10) * 6).astype(np.int64)), 1)
    open_interest = np.round(base * 12.0 * liquidity * (0.5 + market.hash_uniform(*keys[:4], 11))).astype(np.int64)
    return {
        "t": t, "spot": spot, "sigma": sigma, "model": model_close, "o": o, "h": h, "l": low, "c": c,
        "vw": vwap, "v": volume, "n": trades, "traded": traded, "open_interest": open_interest,
    }


def option_inputs(symbol: str, key: OptionKey, day: dt.date, as_of: dt.date | None = None) -> dict:
    """The BSM inputs behind the bar of contract ``key`` on ``day`` (spot = underlying raw close)."""
    hist = market.history(symbol, as_of)
    i = market.sessions().index_on_or_before(day)
    t = year_fraction(day, key.expiration)
    sigma = _sigma(
        market.profile(symbol), hist.sigma[[i]], hist.close[[i]], np.array([key.strike]), np.array([t])
    )[0]
    return {
        "spot": float(hist.close[i]), "strike": key.strike, "t": float(t), "r": RISK_FREE_RATE,
        "q": DIVIDEND_YIELD, "sigma": float(sigma), "is_call": key.is_call,
    }


def option_bars(symbol: str, key: OptionKey, first: int, last: int, as_of: dt.date | None = None) -> dict[str, np.ndarray]:
    """Daily bars of one contract on session indices ``first..last`` (only days it traded)."""
    life = contract_life(symbol, key, as_of)
    empty = {k: np.zeros(0) for k in ("t", "o", "h", "l", "c", "vw", "v", "n")}
    if life is None:
        return empty
    lo, hi = max(first, life[0]), min(last, life[1])
    if lo > hi:
        return empty
    hist = market.history(symbol, as_of)
    days = np.arange(lo, hi + 1)
    exp_ordinal = np.full(len(days), (key.expiration - dt.date(1970, 1, 1)).days)
    values = _price_days(
        symbol, hist, exp_ordinal, np.full(len(days), key.strike_milli), np.full(len(days), key.is_call), days
    )
    keep = values["traded"]
    out = {k: values[k][keep] for k in ("o", "h", "l", "c", "vw", "v", "n")}
    out["v"] = out["v"].astype(np.float64)
    out["t"] = market.sessions().t_ms[days[keep]]
    return out


# --------------------------------------------------------------------------------------------
# Snapshot
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The chain at the close of session index ``day``; arrays aligned with ``contracts``."""

    contracts: Contracts
    day: int
    values: dict[str, np.ndarray]
    previous_close: np.ndarray
    greeks: dict[str, np.ndarray]
    has_greeks: np.ndarray
    quote: dict[str, np.ndarray]
    tickers: list[str]
    expiration_dates: list[str]


@lru_cache(maxsize=64)
def _snapshot(symbol: str, n: int) -> Snapshot:
    hist = market.history_of_length(symbol, n)
    day = n - 1
    contracts = _chain(symbol, n, day)
    exp_ordinal = contracts.expiration_ordinal
    days = np.full(len(contracts), day)
    values = _price_days(symbol, hist, exp_ordinal, contracts.strike_milli, contracts.is_call, days)
    previous = _price_days(symbol, hist, exp_ordinal, contracts.strike_milli, contracts.is_call, np.maximum(days - 1, 0))
    strike = contracts.strike_milli / 1000.0
    vendor_units = greeks(values["spot"], strike, values["t"], RISK_FREE_RATE, DIVIDEND_YIELD, values["sigma"], contracts.is_call)
    g = {  # the vendor's names: theta per calendar day, vega per 1 % (one vol point)
        "delta": vendor_units.delta,
        "gamma": vendor_units.gamma,
        "theta": vendor_units.theta_per_day,
        "vega": vendor_units.vega_per_vol_point,
    }
    intrinsic = np.maximum(np.where(contracts.is_call, values["spot"] - strike, strike - values["spot"]), 0.0)
    # Like the vendor, no greeks/IV where the price is (almost) all intrinsic value (deep in the
    # money) or the contract expires at this close (t = 0).
    has_greeks = ((values["model"] - intrinsic >= 0.005) | (intrinsic == 0.0)) & (values["t"] > 0)
    has_greeks &= np.isfinite(g["delta"])
    half_spread = np.maximum(0.01, 0.03 * values["model"]) / 2.0
    bid = np.maximum(np.round(values["model"] - half_spread, 2), 0.0)
    ask = np.maximum(np.round(values["model"] + half_spread, 2), np.round(bid + 0.01, 2))
    keys = (
        market.symbol_seed(symbol), exp_ordinal, contracts.strike_milli, contracts.is_call.astype(np.int64), day
    )
    quote = {
        "bid": bid,
        "ask": ask,
        "ask_size": (1 + market.hash_uniform(*keys, 21) * 300).astype(np.int64),
        "bid_size": (1 + market.hash_uniform(*keys, 22) * 300).astype(np.int64),
        "exchange": (300 + market.hash_uniform(*keys, 23) * 20).astype(np.int64),
        "trade_age_s": (1 + market.hash_uniform(*keys, 24) * 600).astype(np.int64),
        "trade_size": (1 + market.hash_uniform(*keys, 25) * 20).astype(np.int64),
    }
    root = option_root(symbol)
    expiration_dates = market.ordinal_to_iso(exp_ordinal)
    tickers = [
        f"O:{root}{d[2:4]}{d[5:7]}{d[8:10]}{'C' if call else 'P'}{k:08d}"
        for d, call, k in zip(expiration_dates, contracts.is_call.tolist(), contracts.strike_milli.tolist())
    ]
    return Snapshot(contracts, day, values, previous["c"], g, has_greeks, quote, tickers, expiration_dates)


def snapshot(symbol: str, as_of: dt.date | None = None) -> Snapshot:
    """The option chain of ``symbol`` at the close of the latest session (or ``as_of``)."""
    hist = market.history(symbol, as_of)
    return _snapshot(symbol, hist.n)


def snapshot_record(snap: Snapshot, i: int) -> dict:
    """The vendor-shaped ``/v3/snapshot/options`` record of contract ``i``."""
    c = snap.contracts
    v = snap.values
    q = snap.quote
    close_ns = int(market.sessions().close_ns[snap.day])
    strike = float(c.strike_milli[i]) / 1000.0
    is_call = bool(c.is_call[i])
    close = float(v["c"][i])
    previous = float(snap.previous_close[i])
    traded = bool(v["traded"][i])
    bid, ask = float(q["bid"][i]), float(q["ask"][i])
    mid = round((bid + ask) / 2.0, 4)
    break_even = round(strike + mid if is_call else strike - mid, 4)
    spot = float(v["spot"][i])
    record = {
        "break_even_price": break_even,
        "day": {
            "change": round(close - previous, 4),
            "change_percent": round((close / previous - 1.0) * 100.0, 4),
            "close": close,
            "high": float(v["h"][i]) if traded else close,
            "last_updated": close_ns,
            "low": float(v["l"][i]) if traded else close,
            "open": float(v["o"][i]) if traded else close,
            "previous_close": previous,
            "volume": int(v["v"][i]) if traded else 0,
            "vwap": float(v["vw"][i]) if traded else close,
        },
        "details": {
            "contract_type": "call" if is_call else "put",
            "exercise_style": "american",
            "expiration_date": snap.expiration_dates[i],
            "shares_per_contract": SHARES_PER_CONTRACT,
            "strike_price": _number(strike),
            "ticker": snap.tickers[i],
        },
    }
    if snap.has_greeks[i]:
        g = snap.greeks
        record["greeks"] = {
            "delta": float(g["delta"][i]), "gamma": float(g["gamma"][i]),
            "theta": float(g["theta"][i]), "vega": float(g["vega"][i]),
        }
        record["implied_volatility"] = float(v["sigma"][i])
    record["last_quote"] = {
        "ask": ask,
        "ask_size": int(q["ask_size"][i]),
        "bid": bid,
        "bid_size": int(q["bid_size"][i]),
        "last_updated": close_ns,
        "midpoint": mid,
        "timeframe": "DELAYED",
    }
    if traded:
        record["last_trade"] = {
            "conditions": [209],
            "exchange": int(q["exchange"][i]),
            "price": close,
            "sip_timestamp": close_ns - 1_000_000_000 * int(q["trade_age_s"][i]),
            "size": int(q["trade_size"][i]),
            "timeframe": "DELAYED",
        }
    record["open_interest"] = int(v["open_interest"][i])
    record["underlying_asset"] = {
        "change_to_break_even": round(break_even - spot, 4),
        "last_updated": close_ns,
        "price": spot,
        "ticker": c.symbol,
        "timeframe": "DELAYED",
    }
    return record


def contract_record(contracts: Contracts, i: int) -> dict:
    """The ``/v3/reference/options/contracts`` record."""
    is_call = bool(contracts.is_call[i])
    return {
        "cfi": "OCASPS" if is_call else "OPASPS",
        "contract_type": "call" if is_call else "put",
        "exercise_style": "american",
        "expiration_date": market.ordinal_to_date(int(contracts.expiration_ordinal[i])).isoformat(),
        "primary_exchange": "BATO",
        "shares_per_contract": SHARES_PER_CONTRACT,
        "strike_price": _number(float(contracts.strike_milli[i]) / 1000.0),
        "ticker": contracts.ticker(i),
        "underlying_ticker": contracts.symbol,
    }


def _number(value: float) -> float | int:
    """Whole strikes as integers, like the vendor (``65`` rather than ``65.0``)."""
    return int(value) if float(value).is_integer() else value
