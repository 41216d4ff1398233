"""Retention: move rows older than a cutoff to Parquet files, then delete them from the table.

One file per session date (``<table>/date=YYYY-MM-DD.parquet``): a rerun after a crash
rewrites the same file with the same rows, and rows leave the table only after their file
is safely on disk (written to a temp name, then renamed).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, Table, delete, select

from enrichment_pipeline.storage.schema import PARTITION_DATE_COLUMN


@dataclass(frozen=True)
class RetentionResult:
    rows_archived: int
    rows_deleted: int
    files: list[Path]


def archive_and_delete(engine: Engine, table: Table, cutoff: dt.date, archive_dir: Path) -> RetentionResult:
    """Archive and delete every row of ``table`` dated before ``cutoff``."""
    date_column = table.c[PARTITION_DATE_COLUMN[table.name]]
    target_dir = Path(archive_dir) / table.name
    with engine.connect() as connection:
        days = list(connection.execute(select(date_column).where(date_column < cutoff).distinct().order_by(date_column)).scalars())
    archived = deleted = 0
    files = []
    for day in days:
        with engine.begin() as connection:
            frame = pd.DataFrame(connection.execute(select(table).where(date_column == day)).mappings().all())
            if frame.empty:
                continue
            target_dir.mkdir(parents=True, exist_ok=True)
            path = target_dir / f"date={day.isoformat()}.parquet"
            if path.exists():
                # A previous run archived this day but died before deleting: keep those rows too.
                frame = pd.concat([pd.read_parquet(path), frame]).drop_duplicates(subset=[c.name for c in table.primary_key.columns], keep="last")
            temporary = path.with_suffix(".parquet.tmp")
            frame.to_parquet(temporary, index=False)
            os.replace(temporary, path)
            deleted += connection.execute(delete(table).where(date_column == day)).rowcount
            archived += len(frame)
            files.append(path)
    return RetentionResult(rows_archived=archived, rows_deleted=deleted, files=files)
