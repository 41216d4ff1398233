"""Tables derived from the fetched ones: adjustment factors and technical indicators."""

import datetime as dt
import time
from collections.abc import Callable

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    DimensionPartitionMapping,
    IdentityPartitionMapping,
    MaterializeResult,
    MetadataValue,
    MultiPartitionMapping,
    TimeWindowPartitionMapping,
    asset,
)

from enrichment_pipeline import quality
from enrichment_pipeline.assets.common import (
    as_step_failure,
    backfill_policy,
    compute_kinds,
    daily_freshness_policy,
    record_failure_quietly,
    table_schema,
)
from enrichment_pipeline.derivations import adjustment_factor_rows, indicator_rows
from enrichment_pipeline.partitions import DATE_DIMENSION, SYMBOL_DIMENSION, date_spans_by_symbol, symbol_day_partitions
from enrichment_pipeline.reporting import png_markdown, render_indicator_chart
from enrichment_pipeline.resources.database import DatabaseResource
from enrichment_pipeline.storage import reads, schema
from enrichment_pipeline.storage.logs import record_computation, record_success
from enrichment_pipeline.storage.writes import Slice, write_slice

# The look-back Dagster sees: enough for MA50 (the longest window). The asset itself reads
# INDICATOR_LOOKBACK_SESSIONS (400) so the recursive EMA/RSI converge; declaring all 400 to Dagster
# made it resolve a 400-step mapping over the holiday-excluding calendar several times per run
# (10 s per 252-day range, measured in docs/benchmarks.md).
DECLARED_LOOKBACK_SESSIONS = 60
CHART_SYMBOLS = 5  # charts per run in the UI; more would bloat the event log
CHART_CALENDAR_DAYS = 180


def same_symbol_with_lookback(sessions: int) -> MultiPartitionMapping:
    """Same symbol; the date and ``sessions`` trading days before it."""
    return MultiPartitionMapping(
        {
            SYMBOL_DIMENSION: DimensionPartitionMapping(SYMBOL_DIMENSION, IdentityPartitionMapping()),
            DATE_DIMENSION: DimensionPartitionMapping(
                DATE_DIMENSION, TimeWindowPartitionMapping(start_offset=-sessions, allow_nonexistent_upstream_partitions=True)
            ),
        }
    )


def _derive(context: AssetExecutionContext, database: DatabaseResource, dataset: str, build_rows: Callable) -> tuple[int, dict, quality.Spans]:
    engine = database.engine
    table = schema.metadata.tables[dataset]
    spans = date_spans_by_symbol(context.partition_keys)
    computed_at = dt.datetime.now(dt.timezone.utc)
    written = 0
    rows_by_symbol: dict[str, list[dict]] = {}
    for symbol, symbol_spans in spans.items():
        for start, end in symbol_spans:
            began = time.perf_counter()
            try:
                rows = build_rows(engine, symbol, start, end, computed_at)
                written += write_slice(engine, table, rows, Slice(symbol, start, end)).rows_written
            except Exception as error:
                record_failure_quietly(engine, context.log, symbol=symbol, dataset=dataset, error=f"{type(error).__name__}: {error}")
                raise as_step_failure(error) from error
            record_computation(
                engine, dataset=dataset, symbol=symbol, partition_start=start, partition_end=end, rows=len(rows),
                duration_ms=(time.perf_counter() - began) * 1000, status="success", message=None, run_id=context.run_id,
            )
            rows_by_symbol.setdefault(symbol, []).extend(rows)
        record_success(engine, symbol=symbol, dataset=dataset, last_partition_date=symbol_spans[-1][1])
    return written, rows_by_symbol, spans


@asset(
    name="adjustment_factors",
    group_name="analytics",
    description="Per session: the split factor (split_from/split_to on execution dates) and dividend factor "
    "(1 − cash/previous close on ex-dates) that adjust earlier prices; 1.0 on other days. Raw bars are never changed.",
    partitions_def=symbol_day_partitions,
    kinds=compute_kinds(),
    backfill_policy=backfill_policy(),
    freshness_policy=daily_freshness_policy(),
    deps=[
        AssetDep("market_data", partition_mapping=same_symbol_with_lookback(1)),
        AssetDep("stock_splits"),
        AssetDep("dividends"),
    ],
    check_specs=[
        AssetCheckSpec("factors_positive", asset="adjustment_factors", blocking=True, description="0 < factor ≤ 50 for every session."),
    ],
    metadata={"table": "adjustment_factors", "dagster/column_schema": table_schema(schema.adjustment_factors)},
)
def adjustment_factors(context: AssetExecutionContext, database: DatabaseResource) -> MaterializeResult:
    written, rows_by_symbol, _ = _derive(context, database, "adjustment_factors", adjustment_factor_rows)
    rows = [row for rows in rows_by_symbol.values() for row in rows]
    bad = [r for r in rows if not (0 < r["split_factor"] <= quality.MAX_PLAUSIBLE_SPLIT_RATIO and 0 < r["dividend_factor"] <= 1)]
    events = [r for r in rows if r["split_factor"] != 1.0 or r["dividend_factor"] != 1.0]
    return MaterializeResult(
        metadata={"dagster/row_count": written, "events": len(events), "table": "adjustment_factors"},
        check_results=[
            AssetCheckResult(
                check_name="factors_positive", passed=not bad, severity=AssetCheckSeverity.ERROR,
                metadata={"offending_rows": len(bad), "checked_rows": len(rows)},
            )
        ],
    )


@asset(
    name="technical_indicators",
    group_name="analytics",
    description="MA20/50, EMA12/26, RSI14, Bollinger(20, 2σ) and 20-day realised volatility (close-to-close log returns, "
    "ddof=1, ×√252; weekly ×√52) on split-adjusted closes, point-in-time, for timeframes 1d and 1w. "
    "Depends on the 60 previous sessions of market_data; reads up to 400 so EMA and RSI converge.",
    partitions_def=symbol_day_partitions,
    kinds=compute_kinds(),
    backfill_policy=backfill_policy(),
    freshness_policy=daily_freshness_policy(),
    deps=[
        AssetDep("market_data", partition_mapping=same_symbol_with_lookback(DECLARED_LOOKBACK_SESSIONS)),
        AssetDep("adjustment_factors", partition_mapping=same_symbol_with_lookback(DECLARED_LOOKBACK_SESSIONS)),
    ],
    check_specs=[
        AssetCheckSpec("indicator_ranges", asset="technical_indicators", blocking=False, description="RSI within [0, 100]; volatility ≥ 0; lower ≤ middle ≤ upper band."),
    ],
    metadata={"table": "technical_indicators", "dagster/column_schema": table_schema(schema.technical_indicators)},
)
def technical_indicators(context: AssetExecutionContext, database: DatabaseResource) -> MaterializeResult:
    written, rows_by_symbol, spans = _derive(context, database, "technical_indicators", indicator_rows)
    rows = [row for rows in rows_by_symbol.values() for row in rows]

    def out_of_range(r: dict) -> bool:
        rsi, vol, lo, mid, hi = r["rsi_14"], r["volatility_20"], r["bb_lower_20"], r["bb_middle_20"], r["bb_upper_20"]
        return (rsi is not None and not 0 <= rsi <= 100) or (vol is not None and vol < 0) or (
            None not in (lo, mid, hi) and not (lo <= mid + 1e-9 and mid <= hi + 1e-9)
        )

    bad = [r for r in rows if out_of_range(r)]
    charts = {}
    for symbol, symbol_spans in list(spans.items())[:CHART_SYMBOLS]:
        end = symbol_spans[-1][1]
        history = reads.daily_indicators(database.engine, symbol, end - dt.timedelta(days=CHART_CALENDAR_DAYS), end)
        if len(history) >= 2:
            charts[f"chart_{symbol}"] = MetadataValue.md(png_markdown(render_indicator_chart(history, symbol), f"{symbol} indicators"))
    return MaterializeResult(
        metadata={"dagster/row_count": written, "table": "technical_indicators", "symbols": len(rows_by_symbol), **charts},
        check_results=[
            AssetCheckResult(check_name="indicator_ranges", passed=not bad, severity=AssetCheckSeverity.WARN, metadata={"offending_rows": len(bad), "checked_rows": len(rows)})
        ],
    )
