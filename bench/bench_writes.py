"""Rows/s of our slice-write path (``storage.writes``) into PostgreSQL and SQLite, next to a plain COPY.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, trust auth, user postgres):

    python bench/bench_writes.py                  # 200,000 market_data bars (200 symbols x 1,000 days), best of 3
    python bench/bench_writes.py --quick          # 20,000 bars, 1 repetition
    python bench/bench_writes.py --symbols 20 --days 10000 --repeats 5 --no-sqlite

Each method writes the same rows (dicts as ``fetching`` builds them: symbol, date, OHLC, volume,
vwap, transactions, is_simulated, fetched_at) into an empty ``market_data`` of a scratch database
created for the run and dropped afterwards; "rewrite" rows write them again over a full table
(what a re-run of a backfill does). Times include building the payload from the dicts.

* ``write_slice`` — the asset path: one call per symbol (a 1,000-row slice each): DELETE the slice,
  then ``upsert_rows`` (COPY into a temp staging table + INSERT … ON CONFLICT DO UPDATE on
  PostgreSQL for slices of ``POSTGRES_COPY_THRESHOLD`` rows or more; a multi-row INSERT … ON
  CONFLICT on SQLite), one transaction per slice.
* ``upsert_rows`` — all rows in one call and one transaction.
* ``copy_rows`` — plain ``COPY market_data FROM STDIN`` of the same rows, no upsert: the reference.
* ``executemany upsert`` — SQLAlchemy ``insert().on_conflict_do_update()`` with the list of rows
  (psycopg 3, SQLAlchemy's insertmanyvalues batching): the path below the COPY threshold.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy  # noqa: E402
from sqlalchemy import Engine, func, select, text  # noqa: E402
from sqlalchemy.dialects.postgresql import insert as postgresql_insert  # noqa: E402

from enrichment_pipeline.storage import writes  # noqa: E402
from enrichment_pipeline.storage.engine import create_database_engine  # noqa: E402
from enrichment_pipeline.storage.migrate import ensure_schema  # noqa: E402
from enrichment_pipeline.storage.schema import market_data  # noqa: E402
from enrichment_pipeline.storage.writes import Slice  # noqa: E402

W = writes  # the module under test; --writes-module swaps in another copy (e.g. the previous version)

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def make_rows(symbols: int, days: int, seed: int = 7) -> list[dict]:
    import random

    rng = random.Random(seed)
    fetched_at = dt.datetime(2026, 11, 21, 1, 30, tzinfo=dt.timezone.utc)
    first = dt.date(1990, 1, 1)
    rows = []
    for s in range(symbols):
        symbol = f"S{s:04d}"
        price = 50.0 + s
        for d in range(days):
            price *= 1.0 + rng.gauss(0.0, 0.02)
            high, low = price * 1.01, price * 0.99
            rows.append({
                "symbol": symbol, "date": first + dt.timedelta(days=d), "open": round(price * 0.998, 4),
                "high": round(high, 4), "low": round(low, 4), "close": round(price, 4),
                "volume": float(rng.randint(10_000, 5_000_000)), "vwap": round(price * 1.001, 4),
                "transactions": rng.randint(100, 50_000), "is_simulated": True, "fetched_at": fetched_at,
            })
    return rows


def by_symbol(rows: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["symbol"], []).append(row)
    return groups


def truncate(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("TRUNCATE market_data")
        else:
            connection.exec_driver_sql("DELETE FROM market_data")


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(market_data)).scalar_one()


def via_write_slice(engine: Engine, rows: list[dict]) -> None:
    for symbol, group in by_symbol(rows).items():
        W.write_slice(engine, market_data, group, W.Slice(symbol, group[0]["date"], group[-1]["date"]))


def via_upsert_rows(engine: Engine, rows: list[dict]) -> None:
    with engine.begin() as connection:
        W.upsert_rows(connection, market_data, rows)


def via_copy(engine: Engine, rows: list[dict]) -> None:
    with engine.begin() as connection:
        W.copy_rows(connection, market_data, rows)


def via_executemany(engine: Engine, rows: list[dict]) -> None:
    insert = postgresql_insert(market_data)
    keys = W.primary_key_columns(market_data)
    statement = insert.on_conflict_do_update(
        index_elements=keys, set_={c.name: insert.excluded[c.name] for c in market_data.columns if c.name not in keys})
    with engine.begin() as connection:
        connection.execute(statement, rows)


def measure(engine: Engine, rows: list[dict], method: Callable, repeats: int, rewrite: bool) -> list[float]:
    seconds = []
    for _ in range(repeats):
        truncate(engine)
        if rewrite:
            via_upsert_rows(engine, rows)
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE market_data")
        began = time.perf_counter()
        method(engine, rows)
        seconds.append(time.perf_counter() - began)
        assert count(engine) == len(rows), f"{method.__name__}: {count(engine)} rows, expected {len(rows)}"
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=200)
    parser.add_argument("--days", type=int, default=1000, help="rows per symbol (one slice per symbol)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 1 repetition (< 1 minute)")
    parser.add_argument("--writes-module", metavar="PATH",
                        help="measure another copy of storage/writes.py, e.g. the previous one: "
                             "git show HEAD~1:enrichment_pipeline/storage/writes.py > /tmp/writes_before.py")
    args = parser.parse_args(argv)
    if args.writes_module:
        import importlib.util

        global W
        spec = importlib.util.spec_from_file_location("writes_under_test", args.writes_module)
        W = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = W  # dataclasses look their module up there
        spec.loader.exec_module(W)
        print(f"writes module under test: {args.writes_module}")
    if args.quick:
        args.symbols, args.days, args.repeats = 20, 1000, 1
    rows = make_rows(args.symbols, args.days)
    print(f"bench_writes: {len(rows):,} market_data rows ({args.symbols} symbols x {args.days} days), best of {args.repeats}; "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}")
    results: list[tuple[str, str, list[float]]] = []

    if not args.no_postgres:
        import psycopg

        name = f"bench_writes_{os.getpid()}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
            server_version = admin.execute("SHOW server_version").fetchone()[0]
        print(f"PostgreSQL {server_version}, psycopg {psycopg.__version__}")
        engine = create_database_engine(f"postgresql://postgres@127.0.0.1:5432/{name}")
        try:
            ensure_schema(engine)
            for label, method, rewrite in [
                ("write_slice (per symbol)", via_write_slice, False),
                ("write_slice (per symbol), rewrite", via_write_slice, True),
                ("upsert_rows (one call)", via_upsert_rows, False),
                ("upsert_rows (one call), rewrite", via_upsert_rows, True),
                ("copy_rows (plain COPY, reference)", via_copy, False),
                ("executemany upsert (reference)", via_executemany, False),
            ]:
                results.append(("postgres", label, measure(engine, rows, method, args.repeats, rewrite)))
                print(f"  postgres  {label:<40} {len(rows) / min(results[-1][2]):>10,.0f} rows/s", flush=True)
        finally:
            engine.dispose()
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    if not args.no_sqlite:
        import sqlite3

        with tempfile.TemporaryDirectory() as folder:
            engine = create_database_engine(f"sqlite:///{folder}/bench.db")
            print(f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)")
            try:
                ensure_schema(engine)
                for label, method, rewrite in [
                    ("write_slice (per symbol)", via_write_slice, False),
                    ("write_slice (per symbol), rewrite", via_write_slice, True),
                    ("upsert_rows (one call)", via_upsert_rows, False),
                ]:
                    results.append(("sqlite", label, measure(engine, rows, method, args.repeats, rewrite)))
                    print(f"  sqlite    {label:<40} {len(rows) / min(results[-1][2]):>10,.0f} rows/s", flush=True)
            finally:
                engine.dispose()

    print(f"\n{'db':<9} {'method':<40} {'best rows/s':>12} {'median rows/s':>14} {'best time':>10}")
    for db, label, seconds in results:
        print(f"{db:<9} {label:<40} {len(rows) / min(seconds):>12,.0f} {len(rows) / statistics.median(seconds):>14,.0f} "
              f"{min(seconds):>9.2f}s")
    reference = {label: len(rows) / min(seconds) for db, label, seconds in results if db == "postgres"}
    if reference:
        ours = reference["write_slice (per symbol)"]
        print(f"\nTarget >= 100,000 rows/s upserted on PostgreSQL (write_slice): {ours:,.0f} rows/s -> "
              f"{'met' if ours >= 100_000 else 'MISSED'}; plain COPY {reference['copy_rows (plain COPY, reference)']:,.0f} rows/s, "
              f"executemany {reference['executemany upsert (reference)']:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
