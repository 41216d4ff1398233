"""`options_iv_history`: implied volatility and greeks for past sessions, from our own solver."""

import datetime as dt
import time

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
)

from enrichment_pipeline import quality
from enrichment_pipeline.assets.common import (
    POLYGON_POOL,
    as_step_failure,
    backfill_policy,
    daily_freshness_policy,
    fetch_kinds,
    fetch_retry_policy,
    record_failure_quietly,
    table_schema,
)
from enrichment_pipeline.option_history import ChainLimits, option_history_rows
from enrichment_pipeline.partitions import date_spans_by_symbol, symbol_day_partitions
from enrichment_pipeline.polygon.parsing import summarize_rejects
from enrichment_pipeline.resources.database import DatabaseResource
from enrichment_pipeline.resources.polygon import PolygonResource
from enrichment_pipeline.storage.logs import RejectedRecord, record_computation, record_rejects, record_success
from enrichment_pipeline.storage.schema import options_iv_history as history_table
from enrichment_pipeline.storage.writes import Slice, write_slice

# The vendor's option data as a source in the lineage graph (contracts as of a day, option bars).
polygon_option_prices = AssetSpec(
    key="polygon_option_prices",
    group_name="polygon",
    description="External: option contracts (/v3/reference/options/contracts?as_of=) and option daily bars (/v2/aggs) at the vendor.",
    kinds={"polygon"},
)


@asset(
    name="options_iv_history",
    group_name="analytics",
    description="For each session: the day's option closes (contracts listed that day within ENRICHMENT_OPTIONS_MAX_DAYS_TO_EXPIRY "
    "and ±ENRICHMENT_OPTIONS_STRIKE_BAND_PCT of spot), the underlying close, time to expiry (ACT/365) and the configured rate → "
    "implied volatility and greeks (delta, gamma per 1.00; vega per vol point; theta per calendar day; rho per rate point).",
    partitions_def=symbol_day_partitions,
    kinds=fetch_kinds(),
    pool=POLYGON_POOL,
    retry_policy=fetch_retry_policy(),
    backfill_policy=backfill_policy(),
    freshness_policy=daily_freshness_policy(),
    deps=[AssetDep("market_data"), AssetDep(polygon_option_prices)],
    check_specs=[
        AssetCheckSpec("implied_volatility_in_range", asset="options_iv_history", description="Computed IV in (0, 5] where it exists."),
        AssetCheckSpec("no_rejected_records", asset="options_iv_history", description="Every vendor record validated; rejects are kept in rejected_records."),
    ],
    metadata={"table": "options_iv_history", "dagster/column_schema": table_schema(history_table)},
)
def options_iv_history(context: AssetExecutionContext, polygon: PolygonResource, database: DatabaseResource) -> MaterializeResult:
    engine = database.engine
    limits = ChainLimits.from_environment()
    spans = date_spans_by_symbol(context.partition_keys)
    computed_at = dt.datetime.now(dt.timezone.utc)
    written = contracts = 0
    rejects = []
    statuses: dict[str, int] = {}
    missing_underlying: list[str] = []
    with polygon.client(context.run_id) as client:
        for symbol, symbol_spans in spans.items():
            for start, end in symbol_spans:
                began = time.perf_counter()
                try:
                    outcome = option_history_rows(client, engine, symbol, start, end, limits, computed_at)
                    record_rejects(engine, [RejectedRecord(ds, symbol, None, r.reason, r.raw, r.record_hash) for ds, r in outcome.rejects], context.run_id)
                    written += write_slice(engine, history_table, outcome.rows, Slice(symbol, start, end)).rows_written
                except Exception as error:
                    record_failure_quietly(engine, context.log, symbol=symbol, dataset="options_iv_history", error=client.scrub(f"{type(error).__name__}: {error}"))
                    raise as_step_failure(error, client.scrub) from error
                record_computation(
                    engine, dataset="options_iv_history", symbol=symbol, partition_start=start, partition_end=end,
                    rows=len(outcome.rows), duration_ms=(time.perf_counter() - began) * 1000, status="success",
                    message=f"{outcome.contracts_priced} contracts priced", run_id=context.run_id,
                )
                contracts += outcome.contracts_priced
                rejects.extend(r for _, r in outcome.rejects)
                missing_underlying.extend(f"{symbol} {day}" for day in outcome.days_without_underlying)
                for row in outcome.rows:
                    statuses[row["iv_status"]] = statuses.get(row["iv_status"], 0) + 1
            record_success(engine, symbol=symbol, dataset="options_iv_history", last_partition_date=symbol_spans[-1][1])
    if missing_underlying:
        context.log.warning(f"No market_data close for {len(missing_underlying)} symbol-days (e.g. {missing_underlying[:3]}): materialize market_data first.")
    iv_rule = quality.implied_volatility_in_range(engine, "options_iv_history", spans)
    return MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "table": "options_iv_history",
            "contracts_priced": contracts,
            "iv_status_counts": MetadataValue.json(statuses),
            "days_without_underlying_close": len(missing_underlying),
            "limits": MetadataValue.json(limits.__dict__),
        },
        check_results=[
            AssetCheckResult(check_name="implied_volatility_in_range", passed=iv_rule.passed, severity=AssetCheckSeverity.WARN,
                             metadata={"offending_rows": iv_rule.offending_rows, "checked_rows": iv_rule.checked_rows}),
            AssetCheckResult(check_name="no_rejected_records", passed=not rejects, severity=AssetCheckSeverity.WARN,
                             metadata={"rejected_records": len(rejects), **({"rejects": MetadataValue.json(summarize_rejects(rejects))} if rejects else {})}),
        ],
    )
