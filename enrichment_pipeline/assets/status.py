"""`enrichment_status`: the dashboard of the old system, as an asset whose metadata the UI renders."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from enrichment_pipeline.assets.common import compute_kinds, table_schema
from enrichment_pipeline.calendar import latest_partitioned_session, trading_days
from enrichment_pipeline.partitions import symbol_partitions
from enrichment_pipeline.reporting import collect_status, coverage_matrix, png_markdown, render_coverage_heatmap, status_markdown
from enrichment_pipeline.resources.database import DatabaseResource
from enrichment_pipeline.storage.logs import utc_now
from enrichment_pipeline.storage.schema import enrichment_status as status_table

HEATMAP_SESSIONS = 30


@asset(
    name="enrichment_status",
    group_name="operations",
    kinds=compute_kinds(),
    description="Per symbol × dataset: rows stored, latest partition, sessions behind, last success and last error; "
    "a coverage heat-map of the last 30 sessions. Refreshed after each daily run and hourly.",
    metadata={"table": "enrichment_status", "dagster/column_schema": table_schema(status_table)},
)
def enrichment_status(context: AssetExecutionContext, database: DatabaseResource) -> MaterializeResult:
    engine = database.engine
    symbols = list(context.instance.get_dynamic_partitions(symbol_partitions.name))
    as_of = latest_partitioned_session()
    statuses = collect_status(engine, symbols, as_of)
    now = utc_now()
    rows = [
        {"symbol": s.symbol, "dataset": s.dataset, "row_count": s.row_count, "last_partition_date": s.latest_date, "updated_at": now}
        for s in statuses
    ]
    if rows:
        insert = (postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert)(status_table)
        with engine.begin() as connection:
            connection.execute(
                insert.on_conflict_do_update(
                    index_elements=["symbol", "dataset"],
                    set_={"row_count": insert.excluded.row_count, "last_partition_date": insert.excluded.last_partition_date, "updated_at": now},
                ),
                rows,
            )
    days = trading_days(as_of.replace(year=as_of.year - 1), as_of)[-HEATMAP_SESSIONS:]
    heatmap = render_coverage_heatmap(coverage_matrix(engine, symbols, days)) if symbols else None
    stale = [s for s in statuses if s.dataset == "market_data" and (s.sessions_behind is None or s.sessions_behind > 0)]
    errors = [s for s in statuses if s.last_error]
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "as_of_session": str(as_of),
            "symbols": len(symbols),
            "symbols_behind_on_market_data": len(stale),
            "datasets_with_errors": len(errors),
            "status": MetadataValue.md(status_markdown(statuses) if statuses else "No symbols yet."),
            **({"coverage": MetadataValue.md(png_markdown(heatmap, "coverage heat-map"))} if heatmap else {}),
        }
    )
