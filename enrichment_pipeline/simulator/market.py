"""Deterministic, realistic stock market data for ANY symbol: the simulator's source of truth.

Everything here is a pure function of the symbol (seeded from ``sha256(symbol)``, never Python's
salted ``hash()``) and of the calendar; nothing depends on the range a client asks for.

* A symbol's whole history, from 2000-01-03 to the latest closed session, is generated at once with
  vectorised numpy and cached per symbol (``history``). Every random stream is consumed in date
  order, so a day's values never change as time moves on: extending the history to a later session
  only appends rows (the data is "causal").
* Prices follow a GBM-like walk with per-symbol drift and a slowly varying volatility regime,
  fat-tailed daily shocks and consistent OHLC/VWAP/volume/transactions.
* Raw prices contain stock splits. Splits happen when the raw price drifts far from the symbol's
  comfortable range (forward splits when it is high, a reverse split when it is very low) plus one
  scheduled split per symbol, so every symbol has a few. ``adjusted=True`` bars divide every price
  before a split by its ratio and multiply the volume, exactly as the vendor does.
* Quarterly cash dividends (most symbols; some never pay), declared in raw per-share amounts.
* Reference data: company name, CIK, FIGIs, primary exchange.

Financials, news and options live in sibling modules and build on :func:`history`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import threading
import time
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from enrichment_pipeline import calendar as trading_calendar

__all__ = [
    "EPOCH",
    "Profile",
    "History",
    "Sessions",
    "Split",
    "sessions",
    "profile",
    "history",
    "history_of_length",
    "latest_session",
    "is_stock_symbol",
    "symbol_seed",
    "hash_uniform",
    "ticker_reference",
]

EPOCH = dt.date(2000, 1, 3)
_UNIX_EPOCH = dt.date(1970, 1, 1)
_STOCK_SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-]{0,11}$")
_MASK64 = (1 << 64) - 1


# --------------------------------------------------------------------------------------------
# Seeds and stateless noise
# --------------------------------------------------------------------------------------------


def symbol_seed(symbol: str) -> int:
    """A stable 63-bit seed for ``symbol`` (sha256, so identical in every process and run)."""
    return int.from_bytes(hashlib.sha256(symbol.encode("utf-8")).digest()[:8], "big") >> 1


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def hash_uniform(*keys: object) -> np.ndarray:
    """Uniform [0, 1) noise that is a pure function of integer keys (scalars or arrays, broadcast).

    Used where a value must not depend on which other values were generated alongside it
    (option bars, bad-record selection): the same keys always give the same number.
    """
    arrays = np.broadcast_arrays(*[np.asarray(k, dtype=np.int64) for k in keys])
    with np.errstate(over="ignore"):
        acc = np.full(arrays[0].shape, 0x243F6A8885A308D3, dtype=np.uint64)
        for arr in arrays:
            acc = _splitmix64(acc ^ arr.astype(np.uint64))
    return (acc >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def hash_normal(*keys: object) -> np.ndarray:
    """Standard normal noise from integer keys (Box–Muller on two ``hash_uniform`` draws)."""
    u1 = hash_uniform(*keys, 1)
    u2 = hash_uniform(*keys, 2)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def is_stock_symbol(symbol: str) -> bool:
    """Upper-case ticker such as ``AAPL`` or ``BRK.B``; the vendor is case-sensitive too."""
    return bool(_STOCK_SYMBOL.fullmatch(symbol or ""))


# --------------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sessions:
    """Every XNYS session the calendar knows, from 2000-01-03 (past and scheduled future ones)."""

    dates: np.ndarray  # datetime64[D]
    ordinals: np.ndarray  # int64 days since 1970-01-01
    t_ms: np.ndarray  # int64: the bar timestamp, midnight America/New_York in Unix ms (vendor's ``t``)
    close_ns: np.ndarray  # int64: the session's close (early closes included) in Unix ns

    def __len__(self) -> int:
        return len(self.ordinals)

    def date(self, index: int) -> dt.date:
        return _UNIX_EPOCH + dt.timedelta(days=int(self.ordinals[index]))

    def index_on_or_after(self, day: dt.date) -> int:
        """Index of the first session on or after ``day`` (``len(self)`` if none)."""
        return int(np.searchsorted(self.ordinals, _ordinal(day), side="left"))

    def index_on_or_before(self, day: dt.date) -> int:
        """Index of the last session on or before ``day`` (-1 if none)."""
        return int(np.searchsorted(self.ordinals, _ordinal(day), side="right")) - 1


def _ordinal(day: dt.date) -> int:
    return (day - _UNIX_EPOCH).days


def ordinal_to_date(ordinal: int) -> dt.date:
    return _UNIX_EPOCH + dt.timedelta(days=int(ordinal))


def ordinal_to_iso(ordinals: np.ndarray) -> list[str]:
    """Days since 1970 -> ``YYYY-MM-DD`` strings, vectorised."""
    return np.asarray(ordinals, dtype="datetime64[D]").astype(str).tolist()


@lru_cache(maxsize=1)
def sessions() -> Sessions:
    cal = trading_calendar.exchange_calendar()
    index = cal.sessions_in_range(pd.Timestamp(EPOCH), cal.last_session)
    dates = index.values.astype("datetime64[D]")
    ordinals = dates.astype(np.int64)
    local_midnight = pd.DatetimeIndex(index.tz_localize(None) if index.tz is not None else index)
    t_ms = (
        local_midnight.tz_localize(trading_calendar.EXCHANGE_TIMEZONE).tz_convert("UTC").asi8 // 1_000_000
    ).astype(np.int64)
    closes = cal.closes.loc[index]
    close_ns = pd.DatetimeIndex(closes).as_unit("ns").asi8.astype(np.int64)
    return Sessions(dates=dates, ordinals=ordinals, t_ms=t_ms, close_ns=close_ns)


_latest_lock = threading.Lock()
_latest_cache: tuple[float, dt.date] | None = None


def latest_session(as_of: dt.date | None = None) -> dt.date:
    """The session the simulated market has reached: ``as_of`` (rolled back to a session) when
    given, else the latest closed XNYS session right now (re-evaluated at most every 30 s)."""
    global _latest_cache
    if as_of is not None:
        return trading_calendar.session_on_or_before(as_of)
    now = time.monotonic()
    with _latest_lock:
        if _latest_cache is None or now - _latest_cache[0] > 30.0:
            _latest_cache = (now, trading_calendar.latest_closed_session())
        return _latest_cache[1]


# --------------------------------------------------------------------------------------------
# Per-symbol profile
# --------------------------------------------------------------------------------------------

_NAME_WORDS = (
    "Technologies", "Holdings", "Industries", "Systems", "Group", "Dynamics", "Labs", "Brands",
    "Energy", "Health", "Financial", "Networks", "Materials", "Therapeutics", "Logistics", "Semiconductor",
)
_NAME_SUFFIXES = ("Inc.", "Corp.", "Co.", "Ltd.", "Inc.", "Corporation")
_FIGI_CHARS = "BCDFGHJKLMNPQRSTVWXYZ0123456789"
_SIC_CODES = ("3571", "3674", "7372", "2834", "6021", "4911", "1311", "5331", "3711", "2080", "7370", "4813")


@dataclass(frozen=True)
class Profile:
    """Time-invariant characteristics of a simulated company and its stock."""

    symbol: str
    seed: int
    name: str
    cik: str
    composite_figi: str
    share_class_figi: str
    primary_exchange: str
    sic: str
    # price process
    start_price: float
    drift: float  # annual
    volatility: float  # annual, long-run level of the regime
    vol_of_vol: float
    base_volume: float  # shares a day, in the share units of 2000 (raw volume grows with each split)
    trade_size: float  # shares per transaction
    split_upper: float  # raw price above which a forward split gets announced
    split_lower: float  # raw price below which a reverse split gets announced
    scheduled_splits: tuple[float, float]  # where in 2001-2012 and 2013-2024 the scheduled splits fall
    # dividends
    pays_dividends: bool
    dividend_yield: float
    dividend_start_year: int
    dividend_first_month: int  # 1..3: quarter months are m, m+3, m+6, m+9
    dividend_day: int
    # fundamentals
    fiscal_year_end_month: int
    net_margin: float
    sales_to_market_cap: float  # quarterly revenue / market cap
    shares_outstanding: float  # in the share units of 2000
    # options
    option_vol_premium: float  # implied / realised
    option_skew: float
    option_smile: float
    option_term_slope: float


def _figi(rng: np.random.Generator) -> str:
    return "BBG" + "".join(_FIGI_CHARS[i] for i in rng.integers(0, len(_FIGI_CHARS), 9))


@lru_cache(maxsize=8192)
def profile(symbol: str) -> Profile:
    seed = symbol_seed(symbol)
    rng = _rng(seed, 0)
    u = rng.random(32)
    word = _NAME_WORDS[int(u[0] * len(_NAME_WORDS))]
    suffix = _NAME_SUFFIXES[int(u[1] * len(_NAME_SUFFIXES))]
    base = re.sub(r"[^A-Za-z0-9]", " ", symbol).title().strip() or symbol
    volatility = 0.18 + 0.32 * u[3] ** 1.5
    start_price = float(math.exp(math.log(8.0) + u[2] * math.log(120.0 / 8.0)))
    return Profile(
        symbol=symbol,
        seed=seed,
        name=f"{base} {word} {suffix}",
        cik=f"{int(u[4] * 1_900_000) + 1_000_000:010d}",
        composite_figi=_figi(rng),
        share_class_figi=_figi(rng),
        primary_exchange="XNAS" if u[5] < 0.55 else "XNYS",
        sic=_SIC_CODES[int(u[6] * len(_SIC_CODES))],
        start_price=start_price,
        drift=0.02 + 0.13 * u[7],
        volatility=volatility,
        vol_of_vol=0.25 + 0.2 * u[8],
        base_volume=float(math.exp(math.log(2e5) + u[9] * math.log(3e7 / 2e5))),
        trade_size=60.0 + 240.0 * u[10],
        split_upper=150.0 + 350.0 * u[11],
        split_lower=1.0 + 2.0 * u[12],
        scheduled_splits=(float(u[13]), float(u[27])),
        pays_dividends=bool(u[14] < 0.7),
        dividend_yield=0.006 + 0.034 * u[15],
        dividend_start_year=2000 + int(u[16] * 19),
        dividend_first_month=1 + int(u[17] * 3),
        dividend_day=4 + int(u[18] * 21),
        fiscal_year_end_month=(12, 12, 12, 12, 12, 9, 6, 3)[int(u[19] * 8)],
        net_margin=-0.02 + 0.26 * u[20],
        sales_to_market_cap=0.02 + 0.1 * u[21],
        shares_outstanding=float(math.exp(math.log(3e7) + u[22] * math.log(3e9 / 3e7))),
        option_vol_premium=1.02 + 0.18 * u[23],
        option_skew=0.08 + 0.22 * u[24],
        option_smile=0.04 + 0.12 * u[25],
        option_term_slope=-0.08 + 0.2 * u[26],
    )


def ticker_reference(symbol: str, as_of: dt.date | None = None) -> dict:
    """The ``/v3/reference/tickers`` record: every symbol is an active US common stock."""
    p = profile(symbol)
    updated = latest_session(as_of)
    return {
        "ticker": symbol,
        "name": p.name,
        "market": "stocks",
        "locale": "us",
        "primary_exchange": p.primary_exchange,
        "type": "CS",
        "active": True,
        "currency_name": "usd",
        "cik": p.cik,
        "composite_figi": p.composite_figi,
        "share_class_figi": p.share_class_figi,
        "last_updated_utc": f"{updated.isoformat()}T00:00:00Z",
    }


# --------------------------------------------------------------------------------------------
# Price history
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    id: str
    ticker: str
    execution_index: int
    execution_date: dt.date
    split_from: int
    split_to: int

    @property
    def ratio(self) -> float:
        """New shares per old share (2.0 for a 2-for-1, 0.25 for a 1-for-4 reverse split)."""
        return self.split_to / self.split_from

    def record(self) -> dict:
        return {
            "id": self.id,
            "execution_date": self.execution_date.isoformat(),
            "split_from": self.split_from,
            "split_to": self.split_to,
            "ticker": self.ticker,
        }


_FORWARD_RATIOS = ((1, 2), (1, 2), (1, 2), (1, 3), (1, 3), (2, 3), (1, 4))
_REVERSE_RATIOS = ((4, 1), (4, 1), (5, 1), (10, 1))
_MIN_SESSIONS_BETWEEN_SPLITS = 250


def _round_price(values: np.ndarray) -> np.ndarray:
    """Cents at $1 and above, 4 decimals below (monotone, so OHLC order survives rounding)."""
    return np.where(values >= 1.0, np.round(values, 2), np.round(values, 4))


def _regime(noise: np.ndarray, phi: float = 0.985, taps: int = 400) -> np.ndarray:
    """A causal AR(1) with unit stationary variance, vectorised as a truncated convolution."""
    kernel = phi ** np.arange(taps) * math.sqrt(1.0 - phi * phi)
    return np.convolve(noise, kernel)[: len(noise)]


@dataclass(frozen=True, eq=False)
class History:
    """One symbol's raw daily bars on sessions ``0..n-1`` plus its corporate actions."""

    symbol: str
    n: int
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    vwap: np.ndarray
    volume: np.ndarray  # int64 raw shares
    transactions: np.ndarray  # int64
    sigma: np.ndarray  # annualised volatility regime per day (drives option implied vols)
    factor_after: np.ndarray  # product of the ratios of splits executed after each day
    executed: np.ndarray  # product of the ratios of splits executed on or before each day
    splits: tuple[Split, ...]
    dividends: tuple[dict, ...]

    @property
    def sessions(self) -> Sessions:
        return sessions()

    @property
    def last_date(self) -> dt.date:
        return sessions().date(self.n - 1)

    def bars(self, start: int, stop: int, adjusted: bool) -> dict[str, np.ndarray]:
        """Bars for session indices ``start <= i < stop`` (raw, or split-adjusted as of today)."""
        sl = slice(max(start, 0), min(stop, self.n))
        out = {
            "t": sessions().t_ms[sl],
            "o": self.open[sl],
            "h": self.high[sl],
            "l": self.low[sl],
            "c": self.close[sl],
            "vw": self.vwap[sl],
            "v": self.volume[sl].astype(np.float64),
            "n": self.transactions[sl],
        }
        if adjusted:
            factor = self.factor_after[sl]
            for key in ("o", "h", "l", "c", "vw"):
                out[key] = np.round(out[key] / factor, 4)
            out["v"] = np.round(out["v"] * factor, 4)
        return out

    @cached_property
    def split_records(self) -> list[dict]:
        return [s.record() for s in self.splits]


def _split_id(symbol: str, execution_date: dt.date) -> str:
    return "E" + hashlib.sha256(f"{symbol}|split|{execution_date.isoformat()}".encode()).hexdigest()


def _dividend_id(symbol: str, ex_date: str, kind: str) -> str:
    return "E" + hashlib.sha256(f"{symbol}|dividend|{ex_date}|{kind}".encode()).hexdigest()


def _plan_splits(p: Profile, log_econ: np.ndarray, sess: Sessions) -> list[tuple[int, int, int]]:
    """Split events (execution index, split_from, split_to), decided causally on the raw price.

    A forward split is announced when the raw price rises above ``split_upper`` and a reverse
    split when it falls below ``split_lower``; each executes a few weeks after the announcement.
    Every symbol also has two scheduled splits (forward when the price is above $20, else
    reverse), one in 2001-2012 and one in 2013-2024, skipped when another split came within a year.
    """
    n = len(log_econ)
    picks = _rng(p.seed, 20).random((16, 3))  # one row per potential split, consumed in order
    pending = [
        sess.index_on_or_after(dt.date(first_year, 1, 1) + dt.timedelta(days=int(fraction * 365.25 * 12)))
        for first_year, fraction in zip((2001, 2013), p.scheduled_splits)
    ]
    log_upper, log_lower = math.log(p.split_upper), math.log(p.split_lower)
    events: list[tuple[int, int, int]] = []
    log_factor = 0.0  # log of the product of the ratios executed so far
    start = 60
    while start < n and len(events) < len(picks):
        row = picks[len(events)]
        raw = log_econ[start:] - log_factor
        crossing = (raw > log_upper) | (raw < log_lower)
        hit = start + int(np.argmax(crossing)) if crossing.any() else None
        hit_execution = hit + 15 + int(row[0] * 40) if hit is not None else n
        pending = [s for s in pending if s >= start]
        if pending and pending[0] < hit_execution:
            index = pending.pop(0)
            forward = log_econ[index - 1] - log_factor >= math.log(20.0)
        else:
            index, forward = hit_execution, hit is not None and raw[hit - start] > log_upper
        if index >= n:
            break
        if forward:
            split_from, split_to = _FORWARD_RATIOS[int(row[1] * len(_FORWARD_RATIOS))]
        else:
            split_from, split_to = _REVERSE_RATIOS[int(row[2] * len(_REVERSE_RATIOS))]
        events.append((index, split_from, split_to))
        log_factor += math.log(split_to / split_from)
        start = index + _MIN_SESSIONS_BETWEEN_SPLITS
    return events


def _generate(symbol: str, n: int) -> History:
    p = profile(symbol)
    sess = sessions()
    days_per_year = 252.0

    # Volatility regime and fat-tailed returns, in "economic" units (no splits yet).
    regime = _regime(_rng(p.seed, 1).standard_normal(n))
    sigma = p.volatility * np.exp(p.vol_of_vol * regime - 0.5 * p.vol_of_vol**2)
    sigma = np.clip(sigma, 0.06, 1.6)
    shocks = _rng(p.seed, 2).standard_t(5, size=n) * math.sqrt(3.0 / 5.0)
    daily_sigma = sigma / math.sqrt(days_per_year)
    returns = (p.drift - 0.5 * sigma**2) / days_per_year + daily_sigma * shocks
    returns[0] = 0.0
    log_econ = math.log(p.start_price) + np.cumsum(returns)

    # Splits: raw price = economic price / product of split ratios executed so far.
    events = _plan_splits(p, log_econ, sess)
    ratio_at = np.ones(n)
    splits: list[Split] = []
    for index, split_from, split_to in events:
        ratio_at[index] = split_to / split_from
        day = sess.date(index)
        splits.append(Split(_split_id(symbol, day), symbol, index, day, split_from, split_to))
    executed = np.cumprod(ratio_at)  # product of ratios executed on or before each day
    factor_after = executed[-1] / executed

    intraday = _rng(p.seed, 3).standard_normal((n, 6))  # row per day, so prefixes are stable
    close_raw = np.exp(log_econ) / executed
    gap = intraday[:, 0] * 0.3 * daily_sigma
    prev_log = np.concatenate(([log_econ[0]], log_econ[:-1]))
    open_raw = np.exp(prev_log + gap) / executed
    top = np.maximum(open_raw, close_raw) * np.exp(np.abs(intraday[:, 1]) * 0.6 * daily_sigma)
    bottom = np.minimum(open_raw, close_raw) * np.exp(-np.abs(intraday[:, 2]) * 0.6 * daily_sigma)
    o, c, h, low = (_round_price(x) for x in (open_raw, close_raw, top, bottom))
    h = np.maximum.reduce([h, o, c])
    low = np.minimum.reduce([low, o, c])
    low = np.where(low <= 0, np.minimum(o, c), low)
    vw = np.round(
        np.clip((h + low + 2.0 * c + o) / 5.0 * np.exp(intraday[:, 3] * 0.1 * daily_sigma), low, h), 4
    )
    vw = np.clip(vw, low, h)

    move = np.abs(returns) / np.maximum(daily_sigma, 1e-9)
    econ_volume = p.base_volume * np.exp(0.35 * intraday[:, 4] - 0.06) * (1.0 + 0.5 * move)
    volume = np.maximum(np.round(econ_volume * executed), 100).astype(np.int64)
    trade_size = p.trade_size * np.exp(0.2 * intraday[:, 5])
    transactions = np.maximum(volume / trade_size, 1).astype(np.int64)

    dividends = _dividends(p, sess, n, close_raw, executed)
    return History(
        symbol=symbol,
        n=n,
        open=o,
        high=h,
        low=low,
        close=c,
        vwap=vw,
        volume=volume,
        transactions=transactions,
        sigma=sigma,
        factor_after=factor_after,
        executed=executed,
        splits=tuple(splits),
        dividends=tuple(dividends),
    )


def _dividends(p: Profile, sess: Sessions, n: int, close_raw: np.ndarray, executed: np.ndarray) -> list[dict]:
    """Quarterly cash dividends in raw per-share amounts, reset once a year from the price."""
    if not p.pays_dividends:
        return []
    last = sess.date(n - 1)
    rng = _rng(p.seed, 30)
    quarters = (last.year - p.dividend_start_year + 2) * 4
    draws = rng.random((max(quarters, 0), 5))
    rows: list[dict] = []
    base_raw = 0.0
    base_factor = 1.0
    for k in range(quarters):
        month0 = p.dividend_first_month + 3 * k
        year = p.dividend_start_year + (month0 - 1) // 12
        month = (month0 - 1) % 12 + 1
        target = dt.date(year, month, min(p.dividend_day, 28))
        ex_index = sess.index_on_or_after(target)
        decl_day = sess.date(ex_index) - dt.timedelta(days=14 + int(draws[k, 0] * 15))
        decl_index = sess.index_on_or_before(decl_day)
        if decl_index >= n or ex_index + 1 >= len(sess):
            break  # not declared yet
        if decl_index < 1:
            continue
        if k % 4 == 0 or base_raw == 0.0:
            proposed = p.dividend_yield * close_raw[decl_index] / 4.0
            current = base_raw * base_factor / executed[decl_index] if base_raw else 0.0
            # Raise (or start) the dividend; cut it only after a large fall in the price.
            if proposed > current or proposed < 0.6 * current:
                base_raw, base_factor = proposed, executed[decl_index]
        factor_now = executed[min(ex_index, n - 1)]
        amount = max(round(float(base_raw * base_factor / factor_now), 4), 0.01)
        ex_date = sess.date(ex_index)
        record_date = sess.date(ex_index + 1)
        pay_date = record_date + dt.timedelta(days=14 + int(draws[k, 1] * 15))
        decl_date = sess.date(decl_index)
        rows.append(_dividend_row(p.symbol, ex_date, decl_date, record_date, pay_date, amount, "CD", 4))
        if draws[k, 2] < 0.02 and ex_index + 12 < len(sess):  # occasionally a special dividend
            sc_ex = sess.date(ex_index + 10)
            sc_amount = round(float(amount * (2.0 + 3.0 * draws[k, 3])), 4)
            rows.append(
                _dividend_row(
                    p.symbol, sc_ex, decl_date, sess.date(ex_index + 11),
                    sess.date(ex_index + 11) + dt.timedelta(days=14), sc_amount, "SC", 0,
                )
            )
    return rows


def _dividend_row(
    symbol: str, ex: dt.date, decl: dt.date, record: dt.date, pay: dt.date, amount: float, kind: str, frequency: int
) -> dict:
    ex_iso = ex.isoformat()
    return {
        "cash_amount": amount,
        "currency": "USD",
        "declaration_date": decl.isoformat(),
        "dividend_type": kind,
        "ex_dividend_date": ex_iso,
        "frequency": frequency,
        "id": _dividend_id(symbol, ex_iso, kind),
        "pay_date": pay.isoformat(),
        "record_date": record.isoformat(),
        "ticker": symbol,
    }


@lru_cache(maxsize=128)  # ~0.9 MB each
def _history(symbol: str, n: int) -> History:
    return _generate(symbol, n)


def history_of_length(symbol: str, n: int) -> History:
    """The symbol's history over the first ``n`` sessions since 2000-01-03 (cached)."""
    return _history(symbol, n)


def history(symbol: str, as_of: dt.date | None = None) -> History:
    """The symbol's history up to the latest closed session (or ``as_of``), cached per symbol."""
    last = latest_session(as_of)
    n = sessions().index_on_or_before(last) + 1
    return _history(symbol, n)
