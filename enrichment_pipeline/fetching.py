"""Fetch one symbol's slice of a vendor dataset, validate every record, store the slice.

No Dagster here: the assets call ``fetch_and_store`` once per symbol of their run, so a range
of partitions costs one request stream per symbol, not one request per day.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table

from enrichment_pipeline.calendar import EXCHANGE_TIMEZONE, latest_closed_session, previous_session, trading_day_of
from enrichment_pipeline.polygon.client import PolygonClient
from enrichment_pipeline.polygon.parsing import DATASET_MODELS, Reject, parse_records
from enrichment_pipeline.storage import schema
from enrichment_pipeline.storage.logs import RejectedRecord, record_computation, record_rejects
from enrichment_pipeline.storage.schema import PARTITION_DATE_COLUMN
from enrichment_pipeline.storage.writes import Slice, write_slice
from enrichment_pipeline.symbols import InvalidSymbolError, validate_symbol

NEW_YORK = ZoneInfo(EXCHANGE_TIMEZONE)


class PartitionNotAvailableError(ValueError):
    """The vendor cannot provide this dataset for the requested dates."""


def _ny_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=NEW_YORK)


def _news_window(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    # Partition d holds the articles published after the previous session's calendar day, up to
    # the end of d (New York time): weekend articles land on Monday's partition.
    return _ny_midnight(previous_session(start) + dt.timedelta(days=1)), _ny_midnight(end + dt.timedelta(days=1))


def _options_snapshot(client: PolygonClient, symbol: str, start: dt.date, end: dt.date) -> Iterator[dict]:
    session = latest_closed_session()
    if start != session or end != session:
        raise PartitionNotAvailableError(
            f"options_iv for {symbol} {start}..{end}: the vendor's option snapshot only describes the latest "
            f"closed session ({session}). Materialize options_iv for {session} only; for earlier dates use "
            "options_iv_history, which computes implied volatility from historical option prices."
        )
    return client.option_chain_snapshot(symbol)


FETCHERS: dict[str, Callable[[PolygonClient, str, dt.date, dt.date], Iterator[dict]]] = {
    "market_data": lambda c, s, a, b: c.daily_bars(s, a, b, adjusted=False),
    "dividends": lambda c, s, a, b: c.dividends(s, a, b),
    "stock_splits": lambda c, s, a, b: c.splits(s, a, b),
    "earnings": lambda c, s, a, b: c.financials(s, a, b),
    "news": lambda c, s, a, b: c.news(s, *_news_window(a, b)),
    "options_iv": _options_snapshot,
}


# Where each dataset comes from, for the rejects table (no query string: never a key).
ENDPOINTS = {
    "market_data": "/v2/aggs/ticker/{symbol}/range/1/day/{start}/{end}",
    "dividends": "/v3/reference/dividends?ticker={symbol}",
    "stock_splits": "/v3/reference/splits?ticker={symbol}",
    "earnings": "/vX/reference/financials?ticker={symbol}",
    "news": "/v2/reference/news?ticker={symbol}",
    "options_iv": "/v3/snapshot/options/{symbol}",
}
RAW_DATE_FIELDS = {"dividends": "ex_dividend_date", "stock_splits": "execution_date", "earnings": "filing_date"}


def reject_partition_date(dataset: str, raw: object) -> dt.date | None:
    """The partition date a rejected record would have had, when the raw record still tells it."""
    try:
        if dataset == "market_data":
            return dt.datetime.fromtimestamp(int(raw["t"]) / 1000, tz=NEW_YORK).date()
        if dataset == "news":
            return trading_day_of(dt.datetime.fromisoformat(str(raw["published_utc"]).replace("Z", "+00:00")))
        if dataset in RAW_DATE_FIELDS:
            return dt.date.fromisoformat(str(raw[RAW_DATE_FIELDS[dataset]])[:10])
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None
    return None  # options_iv: a rejected contract has no date of its own; keep the session's rows


@dataclass
class SliceOutcome:
    dataset: str
    symbol: str
    start: dt.date
    end: dt.date
    rows_written: int = 0
    rows_deleted: int = 0
    duplicates_dropped: int = 0
    out_of_slice: int = 0
    rejects: list[Reject] = field(default_factory=list)
    latest_date: dt.date | None = None
    is_simulated: bool = False


def table_for(dataset: str) -> Table:
    return schema.metadata.tables[dataset]


def fetch_and_store(
    dataset: str,
    client: PolygonClient,
    engine: Engine,
    symbol: str,
    spans: list[tuple[dt.date, dt.date]],
    *,
    run_id: str | None = None,
) -> SliceOutcome:
    """Replace ``symbol``'s rows of ``dataset`` in each date span with what the vendor has now.

    One request stream covers all spans; each span is written in its own transaction. Records
    that fail validation go to ``rejected_records``; records dated outside the spans (some
    endpoints filter on another field than our partition date) are counted, not stored.
    """
    # A partition key can be added by hand (UI, GraphQL, CLI) without passing the watchlist's
    # validation: check it before it reaches a URL or the database.
    if validate_symbol(symbol) != symbol:
        raise InvalidSymbolError(f"Symbol {symbol!r} has surrounding whitespace: use {symbol.strip()!r}.")
    began = time.perf_counter()
    table = table_for(dataset)
    date_column = PARTITION_DATE_COLUMN[dataset]
    start, end = spans[0][0], spans[-1][1]
    fetched_at = dt.datetime.now(dt.timezone.utc)
    outcome = SliceOutcome(dataset, symbol, start, end)
    parsed = parse_records(DATASET_MODELS[dataset], FETCHERS[dataset](client, symbol, start, end))
    context = {"session_date": start} if dataset == "options_iv" else {}
    rows_by_span: list[list[dict]] = [[] for _ in spans]
    for record in parsed.valid:
        row = record.to_row(symbol, fetched_at, client.is_simulated, **context)
        day = row[date_column]
        index = next((i for i, (a, b) in enumerate(spans) if a <= day <= b), None)
        if index is None:
            outcome.out_of_slice += 1
        else:
            rows_by_span[index].append(row)
    outcome.is_simulated = client.is_simulated
    outcome.rejects = parsed.rejects
    # Rejects first: if a write fails afterwards, the evidence of bad input is already kept.
    endpoint = ENDPOINTS[dataset].format(symbol=symbol, start=start, end=end)
    record_rejects(
        engine,
        [RejectedRecord(dataset, symbol, endpoint, r.reason, r.raw, r.record_hash) for r in parsed.rejects],
        run_id,
    )
    # A rejected record must not erase the good row stored for it earlier: its partition date
    # keeps its old rows; when the date cannot be read from the record, nothing is deleted.
    reject_dates = [reject_partition_date(dataset, r.raw) for r in parsed.rejects]
    keep_dates = {day for day in reject_dates if day is not None}
    replace = None not in reject_dates
    for (span_start, span_end), rows in zip(spans, rows_by_span):
        result = write_slice(engine, table, rows, Slice(symbol, span_start, span_end), keep_dates=keep_dates, replace=replace)
        outcome.rows_written += result.rows_written
        outcome.rows_deleted += result.rows_deleted
        outcome.duplicates_dropped += result.duplicates_dropped
        if rows:
            latest = max(row[date_column] for row in rows)
            outcome.latest_date = max(outcome.latest_date or latest, latest)
    record_computation(
        engine, dataset=dataset, symbol=symbol, partition_start=start, partition_end=end,
        rows=outcome.rows_written, duration_ms=(time.perf_counter() - began) * 1000, status="success",
        message=f"{len(parsed.rejects)} rejected" if parsed.rejects else None, run_id=run_id,
    )
    return outcome
