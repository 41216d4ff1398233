"""Child process of ``test_kill_resume``: a backfill as the daemon launches it, one run per
symbol over a date range, against the persistent instance in ``$DAGSTER_HOME``.

    python -m enrichment_pipeline_tests.faults.kill_resume_child DATABASE_URL BASE_URL START END SYMBOL...

Prints ``run SYMBOL started`` before and ``run SYMBOL success|failure RUN_ID`` after each run.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("ENRICHMENT_START_DATE", "2024-01-02")


def main(argv: list[str]) -> int:
    from dagster import DagsterInstance, materialize

    from enrichment_pipeline.partitions import symbol_partitions
    from enrichment_pipeline_tests.dagster_helpers import range_tags, resources_for
    from enrichment_pipeline_tests.faults.support import FETCHED

    database_url, base_url, start, end, *symbols = argv
    with DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(symbol_partitions.name, symbols)
        for symbol in symbols:
            print(f"run {symbol} started", flush=True)
            result = materialize(
                FETCHED, instance=instance, tags=range_tags([symbol], start, end), raise_on_error=False,
                resources=resources_for(database_url, base_url=base_url, timeout_seconds=120.0),
            )
            print(f"run {symbol} {'success' if result.success else 'failure'} {result.run_id}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
