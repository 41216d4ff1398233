"""Data-quality rules of the enrichment tables, evaluated on the slices a run just wrote.

Each rule is a SQL query over the run's (symbol, date span) slices that counts offending
rows and returns a few examples; the Dagster layer turns the outcome into asset-check results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, true

from enrichment_pipeline.calendar import trading_days
from enrichment_pipeline.storage import schema
from enrichment_pipeline.storage.schema import PARTITION_DATE_COLUMN

# ISO 4217 codes of the currencies US-listed issuers pay dividends in.
KNOWN_CURRENCIES = frozenset({"USD", "CAD", "EUR", "GBP", "CHF", "JPY", "AUD", "HKD", "CNY", "SEK", "NOK", "DKK", "ILS", "MXN", "BRL", "INR", "KRW", "SGD", "TWD", "ZAR"})
# A split outside 1:50 .. 50:1 is far more likely a data error than a corporate action.
MAX_PLAUSIBLE_SPLIT_RATIO = 50.0
MAX_IMPLIED_VOLATILITY = 5.0
EXAMPLES = 5

Spans = dict[str, list[tuple[dt.date, dt.date]]]


@dataclass
class RuleOutcome:
    passed: bool
    offending_rows: int
    checked_rows: int
    examples: list[dict] = field(default_factory=list)
    description: str = ""


def _in_spans(table, spans: Spans) -> ColumnElement[bool]:  # noqa: ANN001
    date_column = table.c[PARTITION_DATE_COLUMN[table.name]]
    clauses = [
        and_(table.c.symbol == symbol, date_column >= start, date_column <= end)
        for symbol, symbol_spans in spans.items()
        for start, end in symbol_spans
    ]
    return or_(*clauses) if clauses else ~true()


def _count_offending(engine: Engine, table, spans: Spans, offending: ColumnElement[bool], description: str, example_columns: Sequence[str]) -> RuleOutcome:  # noqa: ANN001
    in_spans = _in_spans(table, spans)
    with engine.connect() as connection:
        checked = connection.execute(select(func.count()).select_from(table).where(in_spans)).scalar_one()
        bad = connection.execute(select(func.count()).select_from(table).where(in_spans, offending)).scalar_one()
        examples = (
            [dict(row._mapping) for row in connection.execute(
                select(*[table.c[name] for name in example_columns]).where(in_spans, offending).limit(EXAMPLES)
            )]
            if bad
            else []
        )
    for example in examples:
        for key, value in example.items():
            if isinstance(value, (dt.date, dt.datetime)):
                example[key] = value.isoformat()
    return RuleOutcome(passed=bad == 0, offending_rows=bad, checked_rows=checked, examples=examples, description=description)


def unique_natural_keys(engine: Engine, dataset: str, spans: Spans) -> RuleOutcome:
    table = schema.metadata.tables[dataset]
    key_columns = [table.c[c.name] for c in table.primary_key.columns]
    duplicates = (
        select(*key_columns).where(_in_spans(table, spans)).group_by(*key_columns).having(func.count() > 1).subquery()
    )
    with engine.connect() as connection:
        bad = connection.execute(select(func.count()).select_from(duplicates)).scalar_one()
        checked = connection.execute(select(func.count()).select_from(table).where(_in_spans(table, spans))).scalar_one()
    return RuleOutcome(passed=bad == 0, offending_rows=bad, checked_rows=checked, description=f"one row per ({', '.join(c.name for c in key_columns)})")


def rows_on_trading_days(engine: Engine, dataset: str, spans: Spans) -> RuleOutcome:
    """Every row of the slices is dated on a trading day inside the slice (a partition that exists)."""
    table = schema.metadata.tables[dataset]
    date_column = table.c[PARTITION_DATE_COLUMN[dataset]]
    sessions = {day for symbol_spans in spans.values() for start, end in symbol_spans for day in trading_days(start, end)}
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.symbol, date_column).where(_in_spans(table, spans))).all()
    offending = [{"symbol": symbol, "date": day.isoformat()} for symbol, day in rows if day not in sessions]
    return RuleOutcome(passed=not offending, offending_rows=len(offending), checked_rows=len(rows), examples=offending[:EXAMPLES], description="rows dated on exchange sessions within the partition slice")


def ohlc_consistent(engine: Engine, spans: Spans) -> RuleOutcome:
    t = schema.market_data
    offending = or_(
        t.c.low > t.c.open, t.c.low > t.c.close, t.c.high < t.c.open, t.c.high < t.c.close,
        t.c.low > t.c.high, t.c.volume < 0, t.c.low <= 0,
    )
    return _count_offending(engine, t, spans, offending, "0 < low ≤ open, close ≤ high; volume ≥ 0", ["symbol", "date", "open", "high", "low", "close", "volume"])


def split_ratio_plausible(engine: Engine, spans: Spans) -> RuleOutcome:
    t = schema.stock_splits
    ratio = t.c.split_to / t.c.split_from
    offending = or_(t.c.split_from <= 0, t.c.split_to <= 0, ratio > MAX_PLAUSIBLE_SPLIT_RATIO, ratio < 1 / MAX_PLAUSIBLE_SPLIT_RATIO)
    return _count_offending(engine, t, spans, offending, f"split_from, split_to > 0 and ratio within 1:{MAX_PLAUSIBLE_SPLIT_RATIO:g}..{MAX_PLAUSIBLE_SPLIT_RATIO:g}:1", ["symbol", "execution_date", "split_from", "split_to"])


def dividend_amount_and_currency(engine: Engine, spans: Spans) -> RuleOutcome:
    t = schema.dividends
    offending = or_(t.c.cash_amount <= 0, t.c.currency.is_(None), t.c.currency.not_in(sorted(KNOWN_CURRENCIES)))
    return _count_offending(engine, t, spans, offending, "cash_amount > 0 and an ISO 4217 currency", ["symbol", "ex_dividend_date", "cash_amount", "currency"])


def implied_volatility_in_range(engine: Engine, dataset: str, spans: Spans) -> RuleOutcome:
    t = schema.metadata.tables[dataset]
    iv = t.c.implied_volatility
    offending = and_(iv.is_not(None), or_(iv <= 0, iv > MAX_IMPLIED_VOLATILITY))
    return _count_offending(engine, t, spans, offending, f"implied_volatility in (0, {MAX_IMPLIED_VOLATILITY:g}] where present", ["symbol", "date", "contract", "implied_volatility"])
