"""Summaries and pictures for the Dagster UI: the status table, the coverage heat-map and the
indicator chart. Plain SQL and matplotlib; the assets only attach the results as metadata."""

from __future__ import annotations

import base64
import datetime as dt
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from enrichment_pipeline.calendar import latest_partitioned_session, trading_days
from enrichment_pipeline.storage import schema
from enrichment_pipeline.storage.schema import PARTITION_DATE_COLUMN, enrichment_status

# Datasets whose rows exist on every session; the others (dividends, splits, earnings, news)
# are events, so a missing day there is normal.
DAILY_DATASETS = ("market_data", "technical_indicators", "adjustment_factors")
STATUS_DATASETS = ("market_data", "dividends", "stock_splits", "earnings", "news", "options_iv", "options_iv_history", "adjustment_factors", "technical_indicators")


@dataclass(frozen=True)
class DatasetStatus:
    symbol: str
    dataset: str
    latest_date: dt.date | None
    row_count: int
    last_success_at: dt.datetime | None
    last_error: str | None
    sessions_behind: int | None


def collect_status(engine: Engine, symbols: list[str], as_of: dt.date | None = None) -> list[DatasetStatus]:
    """Per symbol × dataset: rows stored, latest date, last error and sessions behind ``as_of``."""
    as_of = as_of or latest_partitioned_session()
    counts: dict[tuple[str, str], tuple[int, dt.date | None]] = {}
    with engine.connect() as connection:
        for dataset in STATUS_DATASETS:
            table = schema.metadata.tables[dataset]
            date_column = table.c[PARTITION_DATE_COLUMN[dataset]]
            query = select(table.c.symbol, func.count(), func.max(date_column)).where(table.c.symbol.in_(symbols)).group_by(table.c.symbol)
            for symbol, count, latest in connection.execute(query):
                counts[(symbol, dataset)] = (count, latest)
        logged = {(row.symbol, row.dataset): row for row in connection.execute(select(enrichment_status))}
    sessions = trading_days(min((v[1] for v in counts.values() if v[1]), default=as_of), as_of)
    position = {day: index for index, day in enumerate(sessions)}
    statuses = []
    for symbol in symbols:
        for dataset in STATUS_DATASETS:
            count, latest = counts.get((symbol, dataset), (0, None))
            log = logged.get((symbol, dataset))
            behind = (len(sessions) - 1 - position[latest]) if latest in position else None
            statuses.append(DatasetStatus(symbol, dataset, latest, count, log.last_success_at if log else None, log.last_error if log else None, behind))
    return statuses


def status_markdown(statuses: list[DatasetStatus]) -> str:
    lines = ["| symbol | dataset | rows | latest | sessions behind | last success (UTC) | last error |", "|---|---|---:|---|---:|---|---|"]
    for s in statuses:
        error = (s.last_error or "").replace("|", "\\|").replace("\n", " ")[:120]
        success = s.last_success_at.strftime("%Y-%m-%d %H:%M") if s.last_success_at else "—"
        behind = "—" if s.sessions_behind is None else str(s.sessions_behind)
        lines.append(f"| {s.symbol} | {s.dataset} | {s.row_count} | {s.latest_date or '—'} | {behind} | {success} | {error} |")
    return "\n".join(lines)


def coverage_matrix(engine: Engine, symbols: list[str], days: list[dt.date], datasets: tuple[str, ...] = DAILY_DATASETS) -> pd.DataFrame:
    """1.0 where a (symbol, dataset) has a row on a day, else 0.0; rows = symbol/dataset, columns = days."""
    index = pd.MultiIndex.from_product([symbols, datasets], names=["symbol", "dataset"])
    matrix = pd.DataFrame(0.0, index=index, columns=pd.Index(days, name="date"))
    if not days or not symbols:
        return matrix
    with engine.connect() as connection:
        for dataset in datasets:
            table = schema.metadata.tables[dataset]
            date_column = table.c[PARTITION_DATE_COLUMN[dataset]]
            query = (
                select(table.c.symbol, date_column)
                .where(table.c.symbol.in_(symbols), date_column >= days[0], date_column <= days[-1])
                .distinct()
            )
            for symbol, day in connection.execute(query):
                if day in matrix.columns:
                    matrix.loc[(symbol, dataset), day] = 1.0
    return matrix


def _figure_png(figure) -> bytes:  # noqa: ANN001
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return buffer.getvalue()


def render_coverage_heatmap(matrix: pd.DataFrame) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height = max(2.0, 0.28 * len(matrix.index) + 1.2)
    figure, axis = plt.subplots(figsize=(max(6.0, 0.22 * len(matrix.columns) + 3), height))
    axis.imshow(matrix.to_numpy(), aspect="auto", cmap="Greens", vmin=0, vmax=1, interpolation="nearest")
    axis.set_yticks(range(len(matrix.index)), [f"{s} · {d}" for s, d in matrix.index], fontsize=7)
    step = max(1, len(matrix.columns) // 10)
    axis.set_xticks(range(0, len(matrix.columns), step), [str(d) for d in matrix.columns[::step]], rotation=45, ha="right", fontsize=7)
    axis.set_title("Coverage of recent sessions (green = stored)", fontsize=9)
    return _figure_png(figure)


def render_indicator_chart(frame: pd.DataFrame, symbol: str) -> bytes:
    """Close with MA20/MA50 and a ±1σ band from volatility_20, for one symbol (daily rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = frame.sort_values("date")
    dates = pd.to_datetime(data["date"])
    close = data["close_adjusted"].to_numpy(dtype=float)
    daily_sigma = data["volatility_20"].to_numpy(dtype=float) / np.sqrt(252.0)
    figure, axis = plt.subplots(figsize=(7.5, 3.2))
    axis.plot(dates, close, color="#222", linewidth=1.0, label="close (split-adjusted)")
    axis.plot(dates, data["ma_20"], color="#1f77b4", linewidth=1.0, label="MA20")
    axis.plot(dates, data["ma_50"], color="#ff7f0e", linewidth=1.0, label="MA50")
    axis.fill_between(dates, close * np.exp(-daily_sigma), close * np.exp(daily_sigma), color="#1f77b4", alpha=0.15, label="±1 day σ (volatility_20)")
    axis.set_title(f"{symbol}: close, moving averages and volatility band", fontsize=9)
    axis.legend(fontsize=7, loc="upper left")
    axis.tick_params(labelsize=7)
    figure.autofmt_xdate()
    return _figure_png(figure)


def png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
