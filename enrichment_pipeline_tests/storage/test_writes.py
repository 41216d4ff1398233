import datetime as dt

import pytest
from sqlalchemy import func, select

from enrichment_pipeline.storage.schema import market_data, news
from enrichment_pipeline.storage.writes import Slice, SliceMismatchError, write_slice

FETCHED = dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)


def bar(day: int, close: float = 100.0, symbol: str = "AAPL") -> dict:
    return {
        "symbol": symbol, "date": dt.date(2024, 1, day), "open": close - 1, "high": close + 2, "low": close - 2,
        "close": close, "volume": 1e6, "vwap": close, "transactions": 1000, "is_simulated": True, "fetched_at": FETCHED,
    }


def table_rows(engine, table):
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]


def test_writing_the_same_slice_twice_leaves_the_same_rows(engine):
    rows = [bar(2), bar(3), bar(4)]
    target = Slice("AAPL", dt.date(2024, 1, 2), dt.date(2024, 1, 4))
    write_slice(engine, market_data, rows, target)
    first = table_rows(engine, market_data)
    result = write_slice(engine, market_data, rows, target)
    assert table_rows(engine, market_data) == first
    assert len(first) == 3
    assert result.rows_deleted == 3 and result.rows_written == 3


def test_slice_write_replaces_only_its_own_slice(engine):
    write_slice(engine, market_data, [bar(2), bar(3), bar(4)], Slice("AAPL", dt.date(2024, 1, 2), dt.date(2024, 1, 4)))
    write_slice(engine, market_data, [bar(3, symbol="MSFT")], Slice("MSFT", dt.date(2024, 1, 3), dt.date(2024, 1, 3)))
    # The vendor corrected Jan 3 and dropped Jan 4: both show; Jan 2 and MSFT are untouched.
    write_slice(engine, market_data, [bar(3, close=150.0)], Slice("AAPL", dt.date(2024, 1, 3), dt.date(2024, 1, 4)))
    with engine.connect() as connection:
        rows = connection.execute(select(market_data.c.symbol, market_data.c.date, market_data.c.close).order_by("symbol", "date")).all()
    assert [(s, d.day, c) for s, d, c in rows] == [("AAPL", 2, 100.0), ("AAPL", 3, 150.0), ("MSFT", 3, 100.0)]


def test_duplicates_from_the_vendor_are_written_once(engine):
    result = write_slice(engine, market_data, [bar(2, 100.0), bar(2, 101.0)], Slice("AAPL", dt.date(2024, 1, 2), dt.date(2024, 1, 2)))
    assert result.duplicates_dropped == 1
    assert [row[5] for row in table_rows(engine, market_data)] == [101.0]


def test_rows_outside_the_slice_are_refused_and_nothing_is_written(engine):
    write_slice(engine, market_data, [bar(2)], Slice("AAPL", dt.date(2024, 1, 2), dt.date(2024, 1, 2)))
    before = table_rows(engine, market_data)
    with pytest.raises(SliceMismatchError, match="outside the slice"):
        write_slice(engine, market_data, [bar(2, 5.0), bar(9)], Slice("AAPL", dt.date(2024, 1, 2), dt.date(2024, 1, 5)))
    assert table_rows(engine, market_data) == before


def test_a_failure_mid_write_leaves_the_previous_rows(engine):
    target = Slice("AAPL", dt.date(2024, 1, 2), dt.date(2024, 1, 4))
    write_slice(engine, market_data, [bar(2), bar(3), bar(4)], target)
    before = table_rows(engine, market_data)
    broken = [bar(2, 200.0), bar(3, 200.0), {**bar(4, 200.0), "open": None}]  # NOT NULL violation on the last row
    with pytest.raises(Exception):
        write_slice(engine, market_data, broken, target)
    assert table_rows(engine, market_data) == before


def test_large_slices_take_the_bulk_path_and_stay_idempotent(engine):
    base = dt.date(2000, 1, 1)
    rows = [{**bar(2), "date": base + dt.timedelta(days=i), "close": 100.0 + i % 7} for i in range(3000)]
    target = Slice("AAPL", base, base + dt.timedelta(days=2999))
    write_slice(engine, market_data, rows, target)
    write_slice(engine, market_data, rows, target)
    with engine.connect() as connection:
        count, total = connection.execute(select(func.count(), func.sum(market_data.c.close))).one()
    assert count == 3000
    assert total == pytest.approx(sum(row["close"] for row in rows))


def test_text_with_tabs_newlines_and_quotes_round_trips(engine):
    base = dict(
        symbol="AAPL", date=dt.date(2024, 1, 2), published_utc=FETCHED, publisher="P", article_url="u",
        description=None, tickers='["AAPL"]', keywords="[]", sentiment=None, sentiment_reasoning=None,
        author=None, is_simulated=False, fetched_at=FETCHED,
    )
    titles = ["tab\there", "new\nline", "back\\slash", "quote ' \" ; DROP TABLE news; --", "ünïcode ✓"]
    rows = [{**base, "article_id": f"a{i}", "title": title} for i, title in enumerate(titles * 120)]
    rows = [{**row, "article_id": f"a{i}"} for i, row in enumerate(rows)]
    write_slice(engine, news, rows, Slice("AAPL", dt.date(2024, 1, 2), dt.date(2024, 1, 2)))
    with engine.connect() as connection:
        stored = connection.execute(select(news.c.title).order_by(news.c.article_id)).scalars().all()
    assert sorted(stored) == sorted(row["title"] for row in rows)
