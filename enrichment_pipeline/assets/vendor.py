"""Enrichment tables fetched from the Polygon API: one partitioned asset per table."""


from collections.abc import Callable
from dataclasses import dataclass

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
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
from enrichment_pipeline.fetching import SliceOutcome, fetch_and_store, table_for
from enrichment_pipeline.partitions import date_spans_by_symbol, symbol_day_partitions
from enrichment_pipeline.polygon.parsing import summarize_rejects
from enrichment_pipeline.resources.database import DatabaseResource
from enrichment_pipeline.resources.polygon import PolygonResource
from enrichment_pipeline.storage.logs import record_success

@dataclass(frozen=True)
class CheckRule:
    name: str
    description: str
    evaluate: Callable[[object, str, quality.Spans], quality.RuleOutcome]
    blocking: bool = False


COMMON_RULES = (
    CheckRule("unique_natural_keys", "Each natural key appears once in the slice.", quality.unique_natural_keys, blocking=True),
    CheckRule("rows_within_partitions", "Every row lies in a trading-day partition of the slice.", quality.rows_on_trading_days, blocking=True),
)

DATASET_RULES: dict[str, tuple[CheckRule, ...]] = {
    "market_data": (CheckRule("ohlc_consistent", "0 < low ≤ open, close ≤ high and volume ≥ 0.", lambda e, d, s: quality.ohlc_consistent(e, s), blocking=True),),
    "dividends": (CheckRule("dividend_amount_and_currency", "cash_amount > 0 in a known ISO 4217 currency.", lambda e, d, s: quality.dividend_amount_and_currency(e, s), blocking=True),),
    "stock_splits": (CheckRule("split_ratio_plausible", "Split ratios positive and within 1:50..50:1.", lambda e, d, s: quality.split_ratio_plausible(e, s), blocking=True),),
    "earnings": (),
    "news": (),
    "options_iv": (CheckRule("implied_volatility_in_range", "Vendor implied volatility in (0, 5] where present.", quality.implied_volatility_in_range),),
}

DESCRIPTIONS = {
    "market_data": "Daily OHLCV bars, raw (unadjusted) prices, from /v2/aggs.",
    "dividends": "Cash dividends from /v3/reference/dividends; partition date = ex-dividend date.",
    "stock_splits": "Stock splits from /v3/reference/splits; partition date = execution date.",
    "earnings": "Quarterly EPS and revenue from /vX/reference/financials; partition date = filing date.",
    "news": "News articles with this symbol's sentiment from /v2/reference/news; partition date = trading day of publication (New York), weekends roll forward.",
    "options_iv": "Option chain snapshot (price, open interest, vendor IV and greeks) from /v3/snapshot/options for the latest closed session only; history lives in options_iv_history.",
}


def _rules(dataset: str) -> tuple[CheckRule, ...]:
    return COMMON_RULES + DATASET_RULES[dataset]


def _check_results(dataset: str, engine, spans: quality.Spans, outcomes: list[SliceOutcome]) -> list[AssetCheckResult]:  # noqa: ANN001
    results = []
    for rule in _rules(dataset):
        outcome = rule.evaluate(engine, dataset, spans)
        results.append(
            AssetCheckResult(
                check_name=rule.name,
                passed=outcome.passed,
                severity=AssetCheckSeverity.ERROR if rule.blocking else AssetCheckSeverity.WARN,
                metadata={
                    "rule": outcome.description,
                    "checked_rows": outcome.checked_rows,
                    "offending_rows": outcome.offending_rows,
                    **({"examples": MetadataValue.json(outcome.examples)} if outcome.examples else {}),
                },
            )
        )
    rejects = [reject for outcome in outcomes for reject in outcome.rejects]
    duplicates = sum(outcome.duplicates_dropped for outcome in outcomes)
    results.append(
        AssetCheckResult(
            check_name="no_rejected_records",
            passed=not rejects,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "rejected_records": len(rejects),
                "vendor_duplicates_dropped": duplicates,
                **({"rejects": MetadataValue.json(summarize_rejects(rejects))} if rejects else {}),
                "where": "table rejected_records",
            },
        )
    )
    return results


def build_vendor_asset(dataset: str) -> AssetsDefinition:
    table = table_for(dataset)
    check_specs = [
        AssetCheckSpec(name=rule.name, asset=dataset, description=rule.description, blocking=rule.blocking)
        for rule in _rules(dataset)
    ] + [AssetCheckSpec(name="no_rejected_records", asset=dataset, description="Every vendor record validated; rejects are kept in rejected_records.")]

    @asset(
        name=dataset,
        description=DESCRIPTIONS[dataset],
        partitions_def=symbol_day_partitions,
        group_name="polygon",
        kinds=fetch_kinds(),
        pool=POLYGON_POOL,
        retry_policy=fetch_retry_policy(),
        backfill_policy=backfill_policy(),
        freshness_policy=daily_freshness_policy(),
        check_specs=check_specs,
        metadata={"table": dataset, "dagster/column_schema": table_schema(table)},
    )
    def _vendor_asset(context: AssetExecutionContext, polygon: PolygonResource, database: DatabaseResource) -> MaterializeResult:
        engine = database.engine
        spans = date_spans_by_symbol(context.partition_keys)
        outcomes: list[SliceOutcome] = []
        with polygon.client(context.run_id) as client:
            for symbol, symbol_spans in spans.items():
                try:
                    outcome = fetch_and_store(dataset, client, engine, symbol, symbol_spans, run_id=context.run_id)
                except Exception as error:
                    record_failure_quietly(engine, context.log, symbol=symbol, dataset=dataset, error=client.scrub(f"{type(error).__name__}: {error}"))
                    raise as_step_failure(error, client.scrub) from error
                record_success(engine, symbol=symbol, dataset=dataset, last_partition_date=symbol_spans[-1][1])
                if outcome.rejects:
                    context.log.warning(f"{dataset} {symbol}: {len(outcome.rejects)} records failed validation; kept in rejected_records")
                outcomes.append(outcome)
        rows = sum(outcome.rows_written for outcome in outcomes)
        rejects = [reject for outcome in outcomes for reject in outcome.rejects]
        return MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "table": dataset,
                "symbols": len(spans),
                "partitions": len(context.partition_keys),
                "rows_replaced": sum(outcome.rows_deleted for outcome in outcomes),
                "rejected_records": len(rejects),
                "simulated_data": any(outcome.is_simulated for outcome in outcomes),
                "dagster/column_schema": table_schema(table),
            },
            check_results=_check_results(dataset, engine, spans, outcomes),
        )

    return _vendor_asset


market_data = build_vendor_asset("market_data")
dividends = build_vendor_asset("dividends")
stock_splits = build_vendor_asset("stock_splits")
earnings = build_vendor_asset("earnings")
news = build_vendor_asset("news")
options_iv = build_vendor_asset("options_iv")

vendor_assets = [market_data, dividends, stock_splits, earnings, news, options_iv]
