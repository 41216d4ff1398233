"""Runs and API requests of a 1-year backfill, executed as the backfill daemon plans it.

    python bench/bench_backfill_requests.py --symbols 10 --year 2025

The daemon holds the smaller dimension (symbols) fixed and makes runs of up to
ENRICHMENT_MAX_PARTITIONS_PER_RUN (260) sessions along the dates, so a year of N symbols is N
runs. Each run here is a real in-process materialization of the history assets against the
loopback simulator; requests are counted from enrichment_fetch_log.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args()

    from dagster import DagsterInstance
    from sqlalchemy import func, select

    from enrichment_pipeline.assets import all_assets
    from enrichment_pipeline.assets.common import MAX_PARTITIONS_PER_RUN
    from enrichment_pipeline.backfills import HISTORY_ASSETS
    from enrichment_pipeline.calendar import trading_days
    from enrichment_pipeline.simulator.server import start_in_thread
    from enrichment_pipeline.storage import schema
    from enrichment_pipeline.storage.engine import get_engine
    from enrichment_pipeline_tests.dagster_helpers import materialize_range, resources_for

    universe = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "XOM", "JNJ", "V", "PG", "KO", "PEP", "WMT"]
    symbols = (universe * (args.symbols // len(universe) + 1))[: args.symbols] if args.symbols <= len(universe) else [f"S{i:03d}" for i in range(args.symbols)]
    days = trading_days(f"{args.year}-01-01", f"{args.year}-12-31")
    chunks = [days[i : i + MAX_PARTITIONS_PER_RUN] for i in range(0, len(days), MAX_PARTITIONS_PER_RUN)]
    assets = [a for a in all_assets if getattr(a, "key", None) and a.key.to_user_string() in HISTORY_ASSETS]
    server, base_url = start_in_thread(port=0)
    with tempfile.TemporaryDirectory() as scratch, DagsterInstance.ephemeral() as instance:
        url = f"sqlite:///{os.path.join(scratch, 'enrichment.db')}"
        resources = resources_for(url, base_url=base_url)
        runs = 0
        began = time.perf_counter()
        for symbol in symbols:
            for chunk in chunks:
                assert materialize_range(assets, resources, instance, [symbol], chunk[0], chunk[-1]).success
                runs += 1
        wall = time.perf_counter() - began
        with get_engine(url).connect() as connection:
            by_dataset = dict(connection.execute(select(schema.enrichment_fetch_log.c.dataset, func.count()).group_by(schema.enrichment_fetch_log.c.dataset)).all())
            rows = {name: connection.execute(select(func.count()).select_from(schema.metadata.tables[name])).scalar_one() for name in HISTORY_ASSETS}
    server.close()
    print(f"{len(symbols)} symbols × {len(days)} sessions of {args.year}, assets: {', '.join(HISTORY_ASSETS)}")
    print(f"runs: {runs}   API requests: {sum(by_dataset.values())} {by_dataset}   wall: {wall:.1f} s")
    print("rows: " + ", ".join(f"{name} {count}" for name, count in rows.items()))


if __name__ == "__main__":
    main()
