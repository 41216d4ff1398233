"""Derived tables computed from stored slices: adjustment factors and technical indicators.

Point-in-time throughout: a row dated d only uses data dated on or before d, and prices are
split-adjusted as of d (splits after d are not applied), so re-running a past partition later
gives the same numbers. No Dagster here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from enrichment_pipeline.analytics.adjustments import adjustment_factors as factor_table
from enrichment_pipeline.analytics.indicators import compute_indicators, to_weekly
from enrichment_pipeline.calendar import previous_session, trading_days
from enrichment_pipeline.storage import reads

# Sessions of history read before a partition. 400 covers MA50 and makes the recursive
# indicators (EMA seeded 400 sessions back, Wilder's RSI) independent of where the read
# starts to ~1e-13 relative, so a range run and single-day runs agree.
INDICATOR_LOOKBACK_SESSIONS = 400
PRICE_LIKE = ("close_adjusted", "ma_20", "ma_50", "ema_12", "ema_26", "bb_upper_20", "bb_middle_20", "bb_lower_20")


@dataclass(frozen=True)
class IndicatorParameters:
    volatility_window: int = 20
    volatility_ddof: int = 1
    periods_per_year_daily: float = 252.0
    periods_per_year_weekly: float = 52.0
    timeframes: tuple[str, ...] = ("1d", "1w")


def lookback_start(start: dt.date, sessions: int) -> dt.date:
    history = trading_days(start - dt.timedelta(days=int(sessions * 1.6) + 10), start)
    return history[-sessions - 1] if len(history) > sessions else history[0]


def adjustment_factor_rows(engine, symbol: str, start: dt.date, end: dt.date, computed_at: dt.datetime) -> list[dict]:  # noqa: ANN001
    """One row per session in start..end: the split and dividend factors effective that day."""
    # One extra session in front: the dividend factor of the first day needs the close before it.
    sessions = trading_days(previous_session(start), end)
    close_frame = reads.closes(engine, symbol, sessions[0], end)
    closes_on_sessions = close_frame.set_index("date")["close"].reindex(sessions).to_numpy(dtype=float)
    factors = factor_table(
        sessions,
        closes_on_sessions,
        reads.splits(engine, symbol, start, end),
        reads.cash_dividends(engine, symbol, start, end),
    ).iloc[1:]
    simulated = bool(close_frame["is_simulated"].any()) if len(close_frame) else False
    return [
        {
            "symbol": symbol,
            "date": row.date,
            "split_factor": float(row.split_factor),
            "dividend_factor": float(row.dividend_factor),
            "is_simulated": simulated,
            "computed_at": computed_at,
        }
        for row in factors.itertuples(index=False)
    ]


def _split_adjusted_as_of_end(engine, symbol: str, first: dt.date, end: dt.date) -> pd.DataFrame:  # noqa: ANN001
    """Closes from ``first`` to ``end`` adjusted as of ``end``, plus ``as_of_scale``: dividing a
    price-like value of day d by it gives the value adjusted as of d instead."""
    bars = reads.closes(engine, symbol, first, end)
    if bars.empty:
        return bars.assign(adjusted=pd.Series(dtype=float), as_of_scale=pd.Series(dtype=float))
    factors = reads.factors(engine, symbol, first, end).set_index("date")["split_factor"]
    # cumulative[t] = product of the split factors of sessions after t up to end
    per_day = factors.reindex(bars["date"]).fillna(1.0).to_numpy()
    after = np.concatenate([np.cumprod(per_day[::-1])[::-1][1:], [1.0]])
    bars = bars.assign(adjusted=bars["close"].to_numpy() * after, as_of_scale=after)
    return bars


def indicator_rows(engine, symbol: str, start: dt.date, end: dt.date, computed_at: dt.datetime, parameters: IndicatorParameters = IndicatorParameters()) -> list[dict]:  # noqa: ANN001
    """technical_indicators rows (both timeframes) for sessions start..end that have a bar.

    The 1d row of day d holds indicators of daily split-adjusted closes up to d. The 1w row of
    day d holds indicators of weekly closes where the current, possibly partial, week ends at
    d — the weekly view as it stood that day.
    """
    first = lookback_start(start, INDICATOR_LOOKBACK_SESSIONS)
    bars = _split_adjusted_as_of_end(engine, symbol, first, end)
    if bars.empty:
        return []
    simulated = bool(bars["is_simulated"].any())
    series = pd.DataFrame({"symbol": symbol, "date": pd.to_datetime(bars["date"]), "close": bars["adjusted"].to_numpy()})
    in_span = (bars["date"] >= start).to_numpy() & (bars["date"] <= end).to_numpy()
    frames = []
    if "1d" in parameters.timeframes:
        daily = compute_indicators(
            series, volatility_window=parameters.volatility_window, volatility_ddof=parameters.volatility_ddof,
            periods_per_year=parameters.periods_per_year_daily, timeframe="1d",
        )
        daily = daily[in_span].copy()
        daily[list(PRICE_LIKE)] = daily[list(PRICE_LIKE)].to_numpy() / bars["as_of_scale"].to_numpy()[in_span, None]
        frames.append(daily)
    if "1w" in parameters.timeframes:
        weekly_rows = []
        for position in np.flatnonzero(in_span):
            weeks = to_weekly(series.iloc[: position + 1])
            values = compute_indicators(
                weeks, volatility_window=parameters.volatility_window, volatility_ddof=parameters.volatility_ddof,
                periods_per_year=parameters.periods_per_year_weekly, timeframe="1w",
            ).iloc[[-1]].copy()
            values[list(PRICE_LIKE)] = values[list(PRICE_LIKE)].to_numpy() / bars["as_of_scale"].iloc[position]
            weekly_rows.append(values)
        if weekly_rows:
            frames.append(pd.concat(weekly_rows))
    result = pd.concat(frames, ignore_index=True)
    result["date"] = pd.to_datetime(result["date"]).dt.date
    result["is_simulated"] = simulated
    result["computed_at"] = computed_at
    numeric = [c for c in result.columns if c not in ("symbol", "date", "timeframe", "is_simulated", "computed_at")]
    records = result.astype({c: object for c in numeric}).where(result.notna(), None).to_dict("records")
    for record in records:
        record["timeframe"] = str(record["timeframe"])
    return records
