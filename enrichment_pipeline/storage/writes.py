"""Idempotent writes of partition slices, for SQLite and PostgreSQL.

A *slice* is one symbol's rows of one table between two partition dates. Writing a slice
replaces exactly that slice in one transaction: rows the vendor no longer sends disappear,
re-writing the same rows leaves the table unchanged, and a failure part-way leaves the
previous rows in place (the transaction rolls back).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter

import psycopg
from sqlalchemy import BigInteger, Boolean, Connection, Date, DateTime, Engine, Float, Integer, String, Table, and_, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.types import TypeEngine

from enrichment_pipeline.storage.schema import PARTITION_DATE_COLUMN

# Below this many rows a multi-row INSERT beats the fixed cost of a COPY into a temp table.
POSTGRES_COPY_THRESHOLD = 500


class SliceMismatchError(ValueError):
    """Rows handed to a slice write that do not belong to the slice."""


@dataclass(frozen=True)
class Slice:
    symbol: str
    start: dt.date
    end: dt.date

    def __str__(self) -> str:
        return f"{self.symbol} {self.start}..{self.end}"


@dataclass(frozen=True)
class WriteResult:
    rows_written: int
    rows_deleted: int
    duplicates_dropped: int


def primary_key_columns(table: Table) -> list[str]:
    return [column.name for column in table.primary_key.columns]


def deduplicate(table: Table, rows: Iterable[Mapping]) -> tuple[list[dict], int]:
    """Keep the last row per natural key (the vendor sometimes repeats a record across pages)."""
    key_columns = primary_key_columns(table)
    key_of = itemgetter(*key_columns) if len(key_columns) > 1 else (lambda row, name=key_columns[0]: (row[name],))
    unique: dict[tuple, dict] = {}
    total = 0
    for row in rows:
        total += 1
        # Rows are only read downstream, so a dict is kept as it is (copying 200,000 rows cost ~15 %
        # of a bulk write); other mappings are copied into one.
        unique[key_of(row)] = row if type(row) is dict else dict(row)
    return list(unique.values()), total - len(unique)


def _check_rows_in_slice(table: Table, rows: Sequence[Mapping], target: Slice, date_column: str) -> None:
    for row in rows:
        day = row[date_column]
        if row["symbol"] != target.symbol or not (target.start <= day <= target.end):
            raise SliceMismatchError(
                f"{table.name}: row ({row['symbol']}, {date_column}={day}) is outside the slice {target}; "
                "nothing was written."
            )


def upsert_rows(connection: Connection, table: Table, rows: Sequence[Mapping]) -> int:
    """INSERT … ON CONFLICT (natural key) DO UPDATE, in the caller's transaction."""
    if not rows:
        return 0
    dialect = connection.dialect.name
    if dialect == "postgresql" and len(rows) >= POSTGRES_COPY_THRESHOLD:
        return _postgres_copy_upsert(connection, table, rows)
    if dialect == "postgresql":
        insert = postgresql_insert(table)
    elif dialect == "sqlite":
        insert = sqlite_insert(table)
    else:
        raise NotImplementedError(f"upserts are implemented for SQLite and PostgreSQL, not {dialect}")
    key_columns = primary_key_columns(table)
    updates = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in key_columns}
    statement = (
        insert.on_conflict_do_update(index_elements=key_columns, set_=updates)
        if updates
        else insert.on_conflict_do_nothing(index_elements=key_columns)
    )
    connection.execute(statement, [_nan_to_null(row) for row in rows])
    return len(rows)


def _nan_to_null(row: Mapping) -> dict:
    # NaN is "no value" for every column we store; both write paths store it as NULL.
    return {key: (None if isinstance(value, float) and value != value else value) for key, value in row.items()}


def _copy_text(value) -> str:  # noqa: ANN001
    if value is None:
        return "\\N"
    if isinstance(value, float) and value != value:  # NaN is not a price: store NULL
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_payload(columns: Sequence[str], rows: Sequence[Mapping]) -> str:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_text(row.get(name)) for name in columns))
        buffer.write("\n")
    return buffer.getvalue()


def _binary_copy_type(column_type: TypeEngine) -> str | None:
    """The PostgreSQL type whose binary COPY format carries this column, or None (use text COPY)."""
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, BigInteger):
        return "int8"
    if isinstance(column_type, Integer):
        return "int4"
    if isinstance(column_type, Float):
        return "float8"
    if isinstance(column_type, DateTime):
        return "timestamptz" if column_type.timezone else "timestamp"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, String):  # VARCHAR(n) and TEXT share text's binary format
        return "text"
    return None


def _copy_binary(cursor, target: str, table: Table, columns: Sequence[str], rows: Sequence[Mapping]) -> None:  # noqa: ANN001
    """COPY rows in PostgreSQL's binary format, one ``write_row`` per row (psycopg's C dumpers):
    no text to build, escape and parse. NaN floats are stored as NULL, as on the other paths."""
    types = [_binary_copy_type(table.c[name].type) for name in columns]
    floats = [index for index, name in enumerate(types) if name == "float8"]
    quoted = ", ".join(f'"{name}"' for name in columns)
    with cursor.copy(f'COPY "{target}" ({quoted}) FROM STDIN (FORMAT BINARY)') as copy:
        copy.set_types(types)
        write_row = copy.write_row
        for row in rows:
            values = [row.get(name) for name in columns]
            for index in floats:
                value = values[index]
                if value != value:  # NaN (only NaN is unequal to itself)
                    values[index] = None
            write_row(values)


def _copy_text_format(cursor, target: str, columns: Sequence[str], rows: Sequence[Mapping]) -> None:  # noqa: ANN001
    quoted = ", ".join(f'"{name}"' for name in columns)
    with cursor.copy(f'COPY "{target}" ({quoted}) FROM STDIN') as copy:
        copy.write(_copy_payload(columns, rows))


# Errors of psycopg's binary dumpers on a value of an unexpected Python type (e.g. a string in a
# float column): the text format, which goes through str() and PostgreSQL's input functions, is
# tried instead, so either path accepts the same rows.
_BINARY_DUMP_ERRORS = (psycopg.DataError, psycopg.ProgrammingError, TypeError, ValueError, OverflowError)


def _copy_into(connection: Connection, target: str, table: Table, columns: Sequence[str], rows: Sequence[Mapping]) -> None:
    cursor = connection.connection.driver_connection.cursor()
    if any(_binary_copy_type(table.c[name].type) is None for name in columns):
        _copy_text_format(cursor, target, columns, rows)
        return
    try:
        with connection.begin_nested():  # a failed COPY must not abort the caller's transaction
            _copy_binary(cursor, target, table, columns, rows)
    except _BINARY_DUMP_ERRORS:
        _copy_text_format(cursor, target, columns, rows)


def _postgres_copy_upsert(connection: Connection, table: Table, rows: Sequence[Mapping]) -> int:
    # COPY into a transaction-scoped temp table, then one set-based upsert: several times
    # faster than executemany for thousands of rows.
    columns = [c.name for c in table.columns if c.name in rows[0]]
    key_columns = primary_key_columns(table)
    staging = f"staging_{table.name}"
    quoted = ", ".join(f'"{name}"' for name in columns)
    updates = ", ".join(f'"{name}" = EXCLUDED."{name}"' for name in columns if name not in key_columns)
    conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    connection.exec_driver_sql(
        f'CREATE TEMP TABLE IF NOT EXISTS "{staging}" (LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS'
    )
    _copy_into(connection, staging, table, columns, rows)
    connection.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} FROM "{staging}" '
        f'ON CONFLICT ({", ".join(key_columns)}) {conflict}'
    )
    # Empty the staging table for a further upsert in this transaction. DELETE, not TRUNCATE: for a
    # slice-sized temp table TRUNCATE's new relation file costs more (write_slice +20 % rows/s).
    connection.exec_driver_sql(f'DELETE FROM "{staging}"')
    return len(rows)


def copy_rows(connection: Connection, table: Table, rows: Sequence[Mapping]) -> int:
    """Plain COPY of rows into ``table`` (PostgreSQL only): the benchmark's speed reference."""
    columns = [c.name for c in table.columns if c.name in rows[0]]
    _copy_into(connection, table.name, table, columns, rows)
    return len(rows)


def write_slice(
    engine: Engine,
    table: Table,
    rows: Iterable[Mapping],
    target: Slice,
    *,
    keep_dates: Collection[dt.date] = (),
    replace: bool = True,
) -> WriteResult:
    """Replace ``target``'s rows of ``table`` with ``rows`` in one transaction.

    Stored rows dated in ``keep_dates`` stay (their new record was rejected); with
    ``replace=False`` nothing is deleted and ``rows`` are only upserted.
    """
    date_column = PARTITION_DATE_COLUMN[table.name]
    unique_rows, duplicates = deduplicate(table, rows)
    _check_rows_in_slice(table, unique_rows, target, date_column)
    with engine.begin() as connection:
        deleted = 0
        if replace:
            in_slice = and_(
                table.c.symbol == target.symbol,
                table.c[date_column] >= target.start,
                table.c[date_column] <= target.end,
            )
            kept = [day for day in keep_dates if target.start <= day <= target.end]
            condition = and_(in_slice, table.c[date_column].not_in(kept)) if kept else in_slice
            deleted = connection.execute(delete(table).where(condition)).rowcount
        written = upsert_rows(connection, table, unique_rows)
    return WriteResult(rows_written=written, rows_deleted=deleted, duplicates_dropped=duplicates)
