"""Symbols and other inputs reach SQL only as bound parameters.

Hostile symbols are refused by validation with a clear message wherever users can give one
(ENRICHMENT_SYMBOLS, the CLI, the watchlist, a hand-made partition key). Where validation cannot
apply (the storage layer called directly, text from the vendor), the value is stored literally
and every table survives.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import DataError

from enrichment_pipeline import quality, reporting
from enrichment_pipeline.assets.vendor import market_data
from enrichment_pipeline.storage import reads, schema
from enrichment_pipeline.storage.engine import get_engine
from enrichment_pipeline.storage.logs import RejectedRecord, record_failure, record_rejects, record_success, status_rows
from enrichment_pipeline.storage.writes import POSTGRES_COPY_THRESHOLD, Slice, write_slice
from enrichment_pipeline.symbols import InvalidSymbolError, parse_symbol_list, validate_symbol
from enrichment_pipeline.watchlist import active_symbols, reconcile_with_environment, set_active
from enrichment_pipeline_tests.faults.support import DAYS, error_text, failure_text, run_assets, step_retries

pytestmark = pytest.mark.security

HOSTILE = "X'); DROP TABLE market_data; --"
SHORT_HOSTILE = "x');DROP TABLE--"  # fits the 16-character symbol column of PostgreSQL
assert len(SHORT_HOSTILE) == schema.SYMBOL
NOW = dt.datetime(2025, 6, 27, 21, tzinfo=dt.timezone.utc)


def _tables_intact(engine) -> None:  # noqa: ANN001
    assert set(schema.metadata.tables) <= set(inspect(engine).get_table_names())


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (HOSTILE, "Symbol \"X'); DROP TABLE mark\" is 31 characters long; tickers have at most 10."),
        ("A';--", "Symbol \"A';--\" is not a valid ticker: expected 1–6 upper-case letters or digits"),
        ("AAPL;DROP", "Symbol 'AAPL;DROP' is not a valid ticker: expected"),
        ("A/../B", "Symbol 'A/../B' is not a valid ticker"),
        ("AAPL?x=", "Symbol 'AAPL?x=' is not a valid ticker"),
        ("AA PL", "Symbol 'AA PL' is not a valid ticker"),
        ("AAPL\x00", "Symbol 'AAPL\\x00' is not a valid ticker"),
        ("ＡＡＰＬ", "Symbol 'ＡＡＰＬ' is not a valid ticker"),  # full-width letters
        ("aapl", "Symbol 'aapl' is not a valid ticker (tickers are upper case: use AAPL)"),
        ("", "Empty symbol: remove the stray comma or give a ticker such as AAPL."),
    ],
)
def test_validation_refuses_hostile_symbols_with_a_clear_message(raw, message):
    with pytest.raises(InvalidSymbolError) as raised:
        validate_symbol(raw)
    assert message in str(raised.value)
    with pytest.raises(InvalidSymbolError):
        parse_symbol_list([raw])


def test_the_watchlist_cannot_be_given_a_hostile_symbol(engine):
    reconcile_with_environment(engine, ["AAPL"])
    for attempt in (lambda: set_active(engine, ["MSFT", HOSTILE], True), lambda: reconcile_with_environment(engine, [HOSTILE])):
        with pytest.raises(InvalidSymbolError, match="DROP TABLE"):
            attempt()
    assert active_symbols(engine) == ["AAPL"]  # nothing of a refused batch was stored
    _tables_intact(engine)


def _bars(symbol: str) -> list[dict]:
    return [
        {"symbol": symbol, "date": day, "open": 10.0 + i, "high": 11.0 + i, "low": 9.0 + i, "close": 10.5 + i,
         "volume": 1000.0, "vwap": 10.2 + i, "transactions": 10, "is_simulated": True, "fetched_at": NOW}
        for i, day in enumerate(DAYS)
    ]


def test_the_storage_layer_binds_a_hostile_symbol_and_stores_it_literally(engine):
    write_slice(engine, schema.market_data, _bars("AAPL"), Slice("AAPL", DAYS[0], DAYS[-1]))
    result = write_slice(engine, schema.market_data, _bars(SHORT_HOSTILE), Slice(SHORT_HOSTILE, DAYS[0], DAYS[-1]))
    assert result.rows_written == 10
    again = write_slice(engine, schema.market_data, _bars(SHORT_HOSTILE), Slice(SHORT_HOSTILE, DAYS[0], DAYS[-1]))
    assert (again.rows_deleted, again.rows_written) == (10, 10)  # the DELETE matched the literal value only

    _tables_intact(engine)
    with engine.connect() as connection:
        by_symbol = dict(connection.execute(
            select(schema.market_data.c.symbol, func.count()).group_by(schema.market_data.c.symbol)
        ).all())
    assert by_symbol == {"AAPL": 10, SHORT_HOSTILE: 10}

    # Reads, quality rules and reports take it as a value too.
    assert len(reads.closes(engine, SHORT_HOSTILE, DAYS[0], DAYS[-1])) == 10
    spans = {SHORT_HOSTILE: [(DAYS[0], DAYS[-1])]}
    for outcome in (quality.ohlc_consistent(engine, spans), quality.unique_natural_keys(engine, "market_data", spans),
                    quality.rows_on_trading_days(engine, "market_data", spans)):
        assert outcome.passed and outcome.checked_rows == 10
    matrix = reporting.coverage_matrix(engine, [SHORT_HOSTILE], DAYS, ("market_data",))
    assert matrix.loc[(SHORT_HOSTILE, "market_data")].sum() == 10

    record_success(engine, symbol=SHORT_HOSTILE, dataset="market_data", last_partition_date=DAYS[-1])
    record_failure(engine, symbol=SHORT_HOSTILE, dataset="news", error=HOSTILE)
    record_rejects(engine, [RejectedRecord("market_data", SHORT_HOSTILE, HOSTILE, HOSTILE, {"c": HOSTILE}, "h" * 64)], run_id=HOSTILE[:30])
    status = {(row["symbol"], row["dataset"]): row for row in status_rows(engine)}
    assert status[SHORT_HOSTILE, "news"]["last_error"] == HOSTILE
    assert status[SHORT_HOSTILE, "market_data"]["last_partition_date"] == DAYS[-1]
    with engine.connect() as connection:
        reject = connection.execute(select(schema.rejected_records)).mappings().one()
    assert (reject["symbol"], reject["endpoint"], reject["reason"]) == (SHORT_HOSTILE, HOSTILE, HOSTILE)
    _tables_intact(engine)


def test_a_symbol_too_long_for_the_column_is_stored_literally_or_refused_whole(engine):
    write_slice(engine, schema.market_data, _bars("AAPL"), Slice("AAPL", DAYS[0], DAYS[-1]))
    if engine.dialect.name == "postgresql":
        # VARCHAR(16) refuses it; the transaction rolls back as a whole.
        with pytest.raises(DataError, match="value too long"):
            write_slice(engine, schema.market_data, _bars(HOSTILE), Slice(HOSTILE, DAYS[0], DAYS[-1]))
        expected = {"AAPL": 10}
    else:
        # SQLite keeps any length: the exact string, as data.
        write_slice(engine, schema.market_data, _bars(HOSTILE), Slice(HOSTILE, DAYS[0], DAYS[-1]))
        expected = {"AAPL": 10, HOSTILE: 10}
    _tables_intact(engine)
    with engine.connect() as connection:
        assert dict(connection.execute(
            select(schema.market_data.c.symbol, func.count()).group_by(schema.market_data.c.symbol)
        ).all()) == expected


HOSTILE_TEXTS = [
    "Robert'); DROP TABLE news; --",
    'quote " and \' and `backtick`',
    "tab\there, newline\nhere, carriage\rreturn",
    "backslash \\ and \\N and \\\\N and \\t literally",
    "$$ dollar $tag$ quoting $$",
    "percent %s %(name)s {0} placeholders",
    "unicode: naïve – ünïcödé – 株式 – \u2028 line separator",
    "\\.",  # COPY's end-of-data marker on a line of its own
]


@pytest.mark.parametrize("rows", [len(HOSTILE_TEXTS), POSTGRES_COPY_THRESHOLD + 100], ids=["insert", "copy"])
def test_hostile_text_from_the_vendor_is_stored_byte_for_byte(rows, engine):
    articles = [
        {"symbol": "AAPL", "article_id": f"a{i:05d}", "date": DAYS[i % len(DAYS)], "published_utc": NOW,
         "title": HOSTILE_TEXTS[i % len(HOSTILE_TEXTS)], "description": HOSTILE_TEXTS[(i + 1) % len(HOSTILE_TEXTS)],
         "tickers": '["AAPL"]', "keywords": None, "is_simulated": True, "fetched_at": NOW}
        for i in range(rows)
    ]
    result = write_slice(engine, schema.news, articles, Slice("AAPL", DAYS[0], DAYS[-1]))
    assert result.rows_written == rows
    _tables_intact(engine)
    with engine.connect() as connection:
        stored = connection.execute(
            select(schema.news.c.article_id, schema.news.c.title, schema.news.c.description).order_by(schema.news.c.article_id)
        ).all()
    assert [tuple(row) for row in stored] == [(a["article_id"], a["title"], a["description"]) for a in articles]


@pytest.mark.parametrize(
    ("symbol", "message"),
    [
        (HOSTILE, "is 31 characters long; tickers have at most 10"),
        ("AAPL/range/1/day/2020-01-01/2025-06-13?x=", "is 41 characters long; tickers have at most 10"),
        ("A/../../B", "Symbol 'A/../../B' is not a valid ticker"),
        ("AAPL?x=", "Symbol 'AAPL?x=' is not a valid ticker"),
    ],
)
def test_a_hostile_partition_key_never_reaches_the_api_or_the_database(symbol, message, database_url, simulator, instance):
    # Dynamic partitions can be added by hand (UI, GraphQL) without going through the watchlist.
    result = run_assets(database_url, simulator.base_url, instance, symbols=[symbol], assets=[market_data])
    assert not result.success
    text = error_text(result)
    assert "InvalidSymbolError: Symbol" in text and message in text, text
    assert simulator.simulator.stats.total_requests == 0  # no URL was built from it
    if len(symbol) <= schema.SYMBOL or database_url.startswith("sqlite"):
        assert step_retries(result) == 0  # refused for good, not retried
    engine = get_engine(database_url)
    _tables_intact(engine)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(schema.market_data)).scalar_one() == 0


@pytest.mark.postgres
def test_a_refused_long_partition_key_fails_once_with_its_own_message_on_postgres(postgres_url, simulator, instance):
    result = run_assets(postgres_url, simulator.base_url, instance, symbols=[HOSTILE], assets=[market_data])
    assert not result.success
    assert step_retries(result) == 0
    assert failure_text(result).startswith("dagster._core.definitions.events.Failure: InvalidSymbolError")
