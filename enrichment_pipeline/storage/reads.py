"""Reads of stored slices as DataFrames, for the computed assets."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, and_, select

from enrichment_pipeline.storage.schema import adjustment_factors, dividends, market_data, stock_splits, technical_indicators


def _frame(engine: Engine, query, columns: list[str]) -> pd.DataFrame:  # noqa: ANN001
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return pd.DataFrame(rows, columns=columns)


def closes(engine: Engine, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Raw closes of one symbol, ``date`` ascending, with the is_simulated flag."""
    t = market_data
    query = select(t.c.date, t.c.close, t.c.is_simulated).where(and_(t.c.symbol == symbol, t.c.date >= start, t.c.date <= end)).order_by(t.c.date)
    return _frame(engine, query, ["date", "close", "is_simulated"])


def splits(engine: Engine, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    t = stock_splits
    query = select(t.c.execution_date, t.c.split_from, t.c.split_to).where(
        and_(t.c.symbol == symbol, t.c.execution_date >= start, t.c.execution_date <= end)
    )
    return _frame(engine, query, ["execution_date", "split_from", "split_to"])


def cash_dividends(engine: Engine, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    t = dividends
    query = select(t.c.ex_dividend_date, t.c.cash_amount).where(
        and_(t.c.symbol == symbol, t.c.ex_dividend_date >= start, t.c.ex_dividend_date <= end)
    )
    return _frame(engine, query, ["ex_dividend_date", "cash_amount"])


def factors(engine: Engine, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    t = adjustment_factors
    query = select(t.c.date, t.c.split_factor, t.c.dividend_factor).where(
        and_(t.c.symbol == symbol, t.c.date >= start, t.c.date <= end)
    ).order_by(t.c.date)
    return _frame(engine, query, ["date", "split_factor", "dividend_factor"])


def daily_indicators(engine: Engine, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    t = technical_indicators
    columns = ["date", "close_adjusted", "ma_20", "ma_50", "volatility_20"]
    query = select(*[t.c[name] for name in columns]).where(
        and_(t.c.symbol == symbol, t.c.timeframe == "1d", t.c.date >= start, t.c.date <= end)
    ).order_by(t.c.date)
    return _frame(engine, query, columns).astype({name: float for name in columns[1:]})
