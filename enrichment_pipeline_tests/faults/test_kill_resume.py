"""A backfill process killed with SIGKILL in the middle of a run, then resumed the Dagster way:
materialize what the instance reports as not materialized. Final rows equal a clean run's and no
partition already done is fetched again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus

from enrichment_pipeline.partitions import date_spans_by_symbol, partition_key
from enrichment_pipeline.simulator import PolygonSimulator, start_in_thread
from enrichment_pipeline.simulator.faults import Faults
from enrichment_pipeline_tests.faults.support import (
    AS_OF,
    DATASETS,
    DAYS,
    FETCHED,
    NEWS,
    aggs_prefix,
    clean_reference,
    count_rows,
    failure_text,
    run_assets,
    snapshot,
    wait_until,
)

pytestmark = pytest.mark.fault

SYMBOLS3 = ["AAPL", "MSFT", "NVDA"]
REPO_ROOT = Path(__file__).resolve().parents[2]


def _requests_by_stream(simulator: PolygonSimulator) -> Counter:
    """(dataset, symbol) → API requests received."""
    streams: Counter = Counter()
    for line in simulator.stats.recent:
        target = line.split(" ", 1)[1]
        for symbol in SYMBOLS3:
            if target.startswith(aggs_prefix(symbol)):
                streams["market_data", symbol] += 1
            elif target.startswith(NEWS) and f"ticker={symbol}&" in target:
                streams["news", symbol] += 1
    return streams


def test_a_backfill_killed_mid_run_resumes_with_only_the_missing_partitions(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    data_url = f"sqlite:///{tmp_path / 'backfill.db'}"
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    clean = clean_reference(clean_url, SYMBOLS3)
    assert len(clean["market_data"]) == 30

    # NVDA's first bars request hangs (the sleep ends when the test says so), so the kill lands
    # while the third run is in flight.
    hang = threading.Event()
    faults = Faults(sleep=lambda seconds: hang.wait(seconds))
    faults.delay_next(1, seconds=120, path_prefix=aggs_prefix("NVDA"))
    server, base_url = start_in_thread(port=0, simulator=PolygonSimulator(as_of=AS_OF, faults=faults))
    sim = server.simulator
    try:
        env = {**os.environ, "DAGSTER_HOME": str(home), "ENRICHMENT_START_DATE": "2024-01-02"}
        child = subprocess.Popen(
            [sys.executable, "-m", "enrichment_pipeline_tests.faults.kill_resume_child", data_url, base_url,
             str(DAYS[0]), str(DAYS[-1]), *SYMBOLS3],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            assert wait_until(lambda: _requests_by_stream(sim)["market_data", "NVDA"] == 1, timeout=120), "NVDA never requested"
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        hang.set()
        output = child.stdout.read()
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        assert "run AAPL success" in output and "run MSFT success" in output and "run NVDA started" in output
        assert "run NVDA success" not in output and "run NVDA failure" not in output
        before_resume = _requests_by_stream(sim)

        with DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_runs()
            assert len(runs) == 3
            statuses = Counter(run.status for run in runs)
            # The killed run is never finished by anyone: without run monitoring it stays STARTED.
            assert statuses == Counter({DagsterRunStatus.SUCCESS: 2, DagsterRunStatus.STARTED: 1})

            # Resume = materialize what Dagster does not report as materialized.
            wanted = {str(partition_key(symbol, day)) for symbol in SYMBOLS3 for day in DAYS}
            resumed: dict[str, list] = {}
            for dataset in DATASETS:
                done = {str(key) for key in instance.get_materialized_partitions(AssetKey(dataset))}
                assert done <= wanted
                assert {k for k in wanted if not k.endswith("|NVDA")} <= done  # AAPL and MSFT are done
                missing = sorted(wanted - done)
                resumed[dataset] = missing
            assert resumed["market_data"] == sorted(k for k in wanted if k.endswith("|NVDA"))
            for dataset, missing in resumed.items():
                for symbol, spans in date_spans_by_symbol(missing).items():
                    asset = [a for a in FETCHED if a.key == AssetKey(dataset)]
                    for start, end in spans:
                        result = run_assets(data_url, base_url, instance, symbols=[symbol], start=start, end=end, assets=asset)
                        assert result.success, failure_text(result)
            for dataset in DATASETS:
                assert {str(k) for k in instance.get_materialized_partitions(AssetKey(dataset))} == wanted
    finally:
        hang.set()
        server.close()

    # No request for what was already done: AAPL and MSFT were fetched once, by their own runs;
    # NVDA's streams once more each only if the killed run had not finished them.
    after = _requests_by_stream(sim)
    for dataset in DATASETS:
        for symbol in ("AAPL", "MSFT"):
            assert after[dataset, symbol] == 1, (dataset, symbol, after)
        nvda_resumed = 1 if resumed[dataset] else 0
        assert after[dataset, "NVDA"] == before_resume[dataset, "NVDA"] + nvda_resumed
    assert before_resume["market_data", "NVDA"] == 1 and after["market_data", "NVDA"] == 2

    # The final rows equal the clean run's, each exactly once.
    assert count_rows(data_url, "market_data") == 30
    for dataset in DATASETS:
        assert snapshot(data_url, dataset) == clean[dataset], dataset
