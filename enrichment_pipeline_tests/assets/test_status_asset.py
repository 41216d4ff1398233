"""`enrichment_status`: the per symbol × dataset dashboard rendered in the asset's metadata."""

import datetime as dt

from dagster import materialize
from sqlalchemy import select

from enrichment_pipeline.assets import all_assets
from enrichment_pipeline.assets.status import enrichment_status
from enrichment_pipeline.calendar import latest_partitioned_session, trading_days
from enrichment_pipeline.storage import schema
from enrichment_pipeline.storage.engine import get_engine
from enrichment_pipeline_tests.dagster_helpers import materialize_range, resources_for


def test_the_status_asset_summarises_coverage_with_a_table_and_a_heatmap(sqlite_url, simulator_server, persistent_instance):
    resources = resources_for(sqlite_url, base_url=simulator_server.base_url)
    latest = latest_partitioned_session()
    days = trading_days(latest - dt.timedelta(days=14), latest)[-5:]
    fetched = [a for a in all_assets if getattr(a, "key", None) and a.key.to_user_string() in ("market_data", "news")]
    assert materialize_range(fetched, resources, persistent_instance, ["AAPL", "MSFT"], days[0], days[-1]).success
    result = materialize([enrichment_status], instance=persistent_instance, resources={"database": resources["database"]})
    metadata = result.asset_materializations_for_node("enrichment_status")[0].metadata
    table = metadata["status"].value
    assert "| AAPL | market_data | 5 | " + str(latest) + " | 0 |" in table
    assert "| MSFT | technical_indicators | 0 | — | — |" in table
    assert metadata["coverage"].value.startswith("![coverage heat-map](data:image/png;base64,")
    assert metadata["symbols_behind_on_market_data"].value == 0
    with get_engine(sqlite_url).connect() as connection:
        stored = {(r.symbol, r.dataset): r for r in connection.execute(select(schema.enrichment_status))}
    assert stored[("AAPL", "market_data")].row_count == 5 and stored[("AAPL", "market_data")].last_partition_date == latest
    assert stored[("AAPL", "market_data")].last_success_at is not None
