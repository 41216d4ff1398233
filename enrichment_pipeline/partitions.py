"""Partitions: symbol (dynamic, the watchlist) × date (NYSE trading days)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from dagster import DynamicPartitionsDefinition, MultiPartitionKey, MultiPartitionsDefinition, TimeWindowPartitionsDefinition

from enrichment_pipeline.calendar import non_trading_weekdays, trading_days
from enrichment_pipeline.settings import enrichment_start_date

SYMBOL_DIMENSION = "symbol"
DATE_DIMENSION = "date"
DATE_FORMAT = "%Y-%m-%d"


def trading_day_partitions(start: dt.date | None = None) -> TimeWindowPartitionsDefinition:
    # A daily cron with weekends and exchange holidays excluded gives one-day windows: the
    # window of Friday closes at Saturday 00:00 UTC, after the session, so Friday is ready for
    # the 01:30 UTC schedule. (A Monday–Friday cron would stretch Friday's window to Monday.)
    start = start or enrichment_start_date()
    holidays = [
        dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
        for day in non_trading_weekdays(start, dt.date(dt.date.today().year + 2, 12, 31))
    ]
    return TimeWindowPartitionsDefinition(
        cron_schedule="0 0 * * *",
        fmt=DATE_FORMAT,
        start=start.strftime(DATE_FORMAT),
        timezone="UTC",
        exclusions=["0 0 * * 6", "0 0 * * 0", *holidays],
    )


symbol_partitions = DynamicPartitionsDefinition(name="symbols")
date_partitions = trading_day_partitions()
symbol_day_partitions = MultiPartitionsDefinition({SYMBOL_DIMENSION: symbol_partitions, DATE_DIMENSION: date_partitions})


def partition_key(symbol: str, day: dt.date | str) -> MultiPartitionKey:
    day_key = day if isinstance(day, str) else day.strftime(DATE_FORMAT)
    return MultiPartitionKey({SYMBOL_DIMENSION: symbol, DATE_DIMENSION: day_key})


def split_partition_key(key: str) -> tuple[str, dt.date]:
    """(symbol, date) of a multi-partition key (a ``MultiPartitionKey`` or its ``date|symbol`` string)."""
    if isinstance(key, MultiPartitionKey):
        dimensions = key.keys_by_dimension
        return dimensions[SYMBOL_DIMENSION], dt.date.fromisoformat(dimensions[DATE_DIMENSION])
    # Dagster orders the dimensions by name: "date" before "symbol".
    day, symbol = key.split("|")
    return symbol, dt.date.fromisoformat(day)


def date_spans_by_symbol(partition_keys: Iterable[str]) -> dict[str, list[tuple[dt.date, dt.date]]]:
    """Group a run's (symbol × date) keys into contiguous trading-day spans per symbol.

    A run launched by a backfill or the schedule covers one span per symbol; a run over a
    scattered selection gets several, so no day outside the run is ever rewritten.
    """
    dates: dict[str, set[dt.date]] = defaultdict(set)
    for key in partition_keys:
        symbol, day = split_partition_key(key)
        dates[symbol].add(day)
    spans: dict[str, list[tuple[dt.date, dt.date]]] = {}
    for symbol in sorted(dates):
        days = sorted(dates[symbol])
        sessions = trading_days(days[0], days[-1])
        position = {session: index for index, session in enumerate(sessions)}
        symbol_spans: list[tuple[dt.date, dt.date]] = []
        span_start = previous = days[0]
        for day in days[1:]:
            if position.get(day, -2) != position.get(previous, -10) + 1:
                symbol_spans.append((span_start, previous))
                span_start = day
            previous = day
        symbol_spans.append((span_start, previous))
        spans[symbol] = symbol_spans
    return spans
