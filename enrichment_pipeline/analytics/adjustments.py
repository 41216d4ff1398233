"""Split and dividend adjustment, derived point-in-time from raw corporate actions.

Raw bars and raw corporate actions are stored as received and never overwritten. An adjusted
series is derived on demand from per-session *adjustment factors* (table
``adjustment_factors``):

* the factor of session ``t`` multiplies every price dated **before** ``t`` to make it
  comparable with prices on and after ``t``; it is 1.0 on sessions without an event;
* a price of day ``d`` adjusted **as of** day ``D`` is ``raw price × Π factor(t)`` over the
  sessions ``t`` in ``(d, D]``. Events after ``D`` are not applied, so a series adjusted as of
  ``D`` only uses what was known on ``D`` (no look-ahead), and adjusting again later only
  rescales history by the events in between.

Conventions
-----------
Split (``stock_splits``: execution date, ``split_from``, ``split_to``): ``split_to`` new shares
for every ``split_from`` old ones, effective at the open of the execution date. Factor
``split_from / split_to``: a 2-for-1 split (from=1, to=2) gives 0.5, halving earlier prices;
a 1-for-10 reverse split (from=10, to=1) gives 10.

Cash dividend (``dividends``: ex-dividend date, ``cash_amount`` per share): CRSP / Yahoo
convention, factor ``1 − D / P`` where ``P`` is the close of the session before the ex-date,
so the previous close adjusts to ``P − D`` and the ex-date drop of ``D`` disappears from the
adjusted series. ``D`` is per share on the ex-date's share basis, so when a split executes on
the same session ``P`` is first put on that basis (``P × split factor``). When there is no
usable previous close (the ex-date is the first session of the series, or the previous close is
missing/NaN) the factor is **1.0**: the dividend is not applied rather than poisoning every
earlier price with NaN. ``D >= P`` cannot be a cash dividend on that price and raises
``ValueError``. Every cash dividend passed in is applied (regular and special alike); filter
the rows beforehand to exclude a type.

Events on one session multiply (two splits, a split and a dividend, a regular and a special
dividend). An event dated on a non-session day (weekend, holiday) takes effect at the next
session; an event dated before the first or after the last session of ``sessions`` has no
session to attach to and is dropped.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

__all__ = ["adjust_prices", "adjustment_factors"]

DateLike = dt.date | str | pd.Timestamp | np.datetime64


def _day_numbers(values, what: str) -> np.ndarray:
    """Days since 1970-01-01 (int64) of an array of dates (date objects, strings, datetime64)."""
    stamps = pd.to_datetime(pd.Series(values))
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)  # keep the wall-clock (exchange) date
    raw = stamps.to_numpy()
    if np.isnat(raw).any():
        raise ValueError(f"{what} contains missing dates")
    return raw.astype("datetime64[D]").view(np.int64)


def _day_number(value: DateLike, what: str) -> int:
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        raise ValueError(f"{what} is missing")
    return int(np.datetime64(stamp.date(), "D").view(np.int64))


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _columns(frame: pd.DataFrame | None, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    missing = set(columns) - set(frame.columns)
    if missing:
        raise ValueError(f"{what} is missing column(s): {sorted(missing)}")
    return frame


def adjustment_factors(
    sessions,
    closes,
    splits: pd.DataFrame | None,
    dividends: pd.DataFrame | None,
) -> pd.DataFrame:
    """Per-session split and dividend factors for ONE symbol.

    ``sessions``: the symbol's session dates, strictly increasing; ``closes``: its raw closes on
    those sessions (NaN where a bar is missing). ``splits``: columns ``execution_date``,
    ``split_from``, ``split_to``; ``dividends``: columns ``ex_dividend_date``, ``cash_amount``
    (either may be None or empty). Returns one row per session with columns ``date`` (the
    session values as given), ``split_factor`` and ``dividend_factor`` — see the module
    docstring for the conventions. Raises ``ValueError`` naming the event for a non-positive
    or non-finite split ratio, a negative or non-finite cash amount, or a dividend not below
    the previous close.
    """
    session_days = _day_numbers(sessions, "sessions")
    if len(session_days) > 1 and not (np.diff(session_days) > 0).all():
        raise ValueError("sessions must be strictly increasing")
    close = np.asarray(closes, dtype=np.float64)
    if close.shape != session_days.shape:
        raise ValueError(f"closes has {close.size} values for {session_days.size} sessions")
    n = len(session_days)
    split_factor = np.ones(n)
    dividend_factor = np.ones(n)

    splits = _columns(splits, ("execution_date", "split_from", "split_to"), "splits")
    if len(splits):
        days = _day_numbers(splits["execution_date"], "splits.execution_date")
        ratio_from = splits["split_from"].to_numpy(dtype=np.float64, na_value=np.nan)
        ratio_to = splits["split_to"].to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~(np.isfinite(ratio_from) & np.isfinite(ratio_to) & (ratio_from > 0) & (ratio_to > 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"split executed {_iso(days[i])}: split_from and split_to must be positive and finite "
                f"(got split_from={float(ratio_from[i])!r}, split_to={float(ratio_to[i])!r})"
            )
        index = np.searchsorted(session_days, days, side="left")
        inside = (days >= session_days[0]) & (index < n) if n else np.zeros(len(days), dtype=bool)
        np.multiply.at(split_factor, index[inside], ratio_from[inside] / ratio_to[inside])

    dividends = _columns(dividends, ("ex_dividend_date", "cash_amount"), "dividends")
    if len(dividends):
        days = _day_numbers(dividends["ex_dividend_date"], "dividends.ex_dividend_date")
        cash = dividends["cash_amount"].to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~(np.isfinite(cash) & (cash >= 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"dividend with ex-date {_iso(days[i])}: cash_amount must be finite and >= 0 (got {float(cash[i])!r})"
            )
        index = np.searchsorted(session_days, days, side="left")
        inside = (days >= session_days[0]) & (index < n) & (index > 0) if n else np.zeros(len(days), dtype=bool)
        index, cash, days = index[inside], cash[inside], days[inside]
        # Previous close on the ex-date's share basis (a split on the same session rescales it).
        previous = close[index - 1] * split_factor[index]
        usable = np.isfinite(previous)
        too_big = usable & (cash >= previous)
        if too_big.any():
            i = int(np.flatnonzero(too_big)[0])
            raise ValueError(
                f"dividend with ex-date {_iso(days[i])}: cash_amount {float(cash[i])!r} is not below the previous "
                f"close {float(previous[i])!r} (session {_iso(session_days[index[i] - 1])}); a cash dividend "
                "must be smaller than the share price"
            )
        np.multiply.at(dividend_factor, index[usable], 1.0 - cash[usable] / previous[usable])

    return pd.DataFrame(
        {
            "date": pd.Series(sessions).reset_index(drop=True),
            "split_factor": split_factor,
            "dividend_factor": dividend_factor,
        }
    )


def adjust_prices(dates, prices, factors_dates, factors, as_of: DateLike) -> np.ndarray:
    """Prices adjusted as of ``as_of``: ``price(d) × Π factors(t)`` for ``d < t <= as_of``.

    ``dates``/``prices``: the raw series (any order). ``factors_dates``/``factors``: per-session
    factors, dates strictly increasing — ``split_factor`` for a split-adjusted series,
    ``split_factor × dividend_factor`` for a total-return series. Factors dated after ``as_of``
    are ignored (point-in-time, no look-ahead); prices dated on or after ``as_of`` come back
    unchanged. Vectorised: one reverse cumulative product over the factors and one binary
    search per price.
    """
    price = np.asarray(prices, dtype=np.float64)
    price_days = _day_numbers(dates, "dates")
    if price.shape != price_days.shape:
        raise ValueError(f"prices has {price.size} values for {price_days.size} dates")
    factor = np.asarray(factors, dtype=np.float64)
    factor_days = _day_numbers(factors_dates, "factors_dates")
    if factor.shape != factor_days.shape:
        raise ValueError(f"factors has {factor.size} values for {factor_days.size} dates")
    if len(factor_days) > 1 and not (np.diff(factor_days) > 0).all():
        raise ValueError("factors_dates must be strictly increasing")
    if not (np.isfinite(factor) & (factor > 0)).all():
        i = int(np.flatnonzero(~(np.isfinite(factor) & (factor > 0)))[0])
        raise ValueError(f"factor on {_iso(factor_days[i])} must be positive and finite (got {float(factor[i])!r})")

    known = int(np.searchsorted(factor_days, _day_number(as_of, "as_of"), side="right"))
    # after[j] = product of factors j..known-1 (1.0 past the end).
    after = np.ones(known + 1)
    after[:known] = np.cumprod(factor[:known][::-1])[::-1]
    first_later = np.searchsorted(factor_days[:known], price_days, side="right")
    return price * after[first_later]
