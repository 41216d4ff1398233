"""Transient API failures (429 storms, 5xx bursts, timeouts, dropped connections, one bad body):
the run finishes and every row is there exactly once, with the same values as a clean run."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import pytest

from enrichment_pipeline_tests.faults.support import (
    DATASETS,
    NEWS,
    aggs_prefix,
    count_rows,
    distinct_keys,
    failure_text,
    fetch_log,
    run_assets,
    snapshot,
    step_retries,
    wait_until,
)

pytestmark = pytest.mark.fault


@dataclass
class Scenario:
    program: Callable  # (faults) -> None
    statuses: dict[int, int]  # every simulator response by status (0 = connection dropped)
    log_errors: dict[str, int]  # fetch-log entries whose error contains this text
    step_retries: int = 0
    min_seconds: float = 0.0
    settings: dict = field(default_factory=dict)


def _storm(faults) -> None:  # noqa: ANN001
    faults.fail_next(2, status=429, retry_after=1, path_prefix=aggs_prefix("AAPL"))
    faults.fail_next(1, status=429, retry_after=1, path_prefix=NEWS)


def _burst(faults) -> None:  # noqa: ANN001
    for status in (500, 502, 503, 504):  # 4 failures in a row: attempt 5 of 5 succeeds
        faults.fail_next(1, status=status, path_prefix=aggs_prefix("AAPL"))
    # 6 in a row outlast the client's 5 attempts: the step's RetryPolicy takes over.
    faults.fail_next(6, status=503, path_prefix=NEWS)


def _timeouts(faults) -> None:  # noqa: ANN001
    faults.delay_next(2, seconds=1.2, path_prefix=aggs_prefix("MSFT"))  # client read timeout 0.5 s


def _resets(faults) -> None:  # noqa: ANN001
    faults.reset_connection_next(3, path_prefix=aggs_prefix("AAPL"))
    faults.reset_connection_next(1, path_prefix=NEWS)


def _bad_bodies(faults) -> None:  # noqa: ANN001
    faults.truncated_page_next(1, path_prefix=aggs_prefix("MSFT"))
    faults.malformed_json_next(1, path_prefix=NEWS)


SCENARIOS = {
    # Backoff is 0.01 s, so only honouring Retry-After (1 s, three times) makes the run last ≥ 3 s.
    "429_storm_with_retry_after": Scenario(_storm, {429: 3, 200: 4}, {"HTTP 429: You've exceeded the maximum requests per minute": 3}, min_seconds=3.0),
    "5xx_burst": Scenario(
        _burst, {500: 1, 502: 1, 503: 7, 504: 1, 200: 4},
        {"HTTP 500": 1, "HTTP 502: <html>": 1, "HTTP 503: Service temporarily unavailable": 7, "HTTP 504": 1},
        step_retries=1,
    ),
    "timeouts": Scenario(_timeouts, {200: 6}, {"timed out (ReadTimeout)": 2}, settings={"timeout_seconds": 0.5}),
    "connection_resets": Scenario(_resets, {0: 4, 200: 4}, {"connection failed (RemoteProtocolError)": 4}),
    "one_truncated_page_one_malformed_body": Scenario(_bad_bodies, {200: 6}, {"response body is not valid JSON": 2}),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_transient_faults_end_with_every_row_exactly_once(name, database_url, simulator, instance, clean_rows):
    scenario = SCENARIOS[name]
    sim = simulator.simulator
    scenario.program(sim.faults)

    began = time.monotonic()
    result = run_assets(database_url, simulator.base_url, instance, **scenario.settings)
    elapsed = time.monotonic() - began

    assert result.success, failure_text(result)
    assert sim.faults.pending() == [], "every injected fault was served"
    assert step_retries(result) == scenario.step_retries
    assert elapsed >= scenario.min_seconds
    # The faults really reached the client: the simulator served them (a delayed answer is
    # counted when its sleep ends, after the client gave up on it), the fetch log recorded them.
    assert wait_until(lambda: sum(sim.stats.by_status.values()) == sim.stats.total_requests, timeout=5)
    assert sim.stats.by_status == scenario.statuses
    log = fetch_log(database_url)
    for needle, expected in scenario.log_errors.items():
        assert sum(1 for entry in log if entry["error"] and needle in entry["error"]) == expected, (needle, log)
    # Whatever failed was retried until it succeeded, and nothing else was fetched twice: one
    # successful request per stream (2 symbols × 2 datasets; each fits one page).
    successes = [entry for entry in log if entry["status_code"] == 200 and entry["error"] is None]
    assert Counter((entry["dataset"], entry["symbol"]) for entry in successes) == {
        (dataset, symbol): 1 for dataset in DATASETS for symbol in ("AAPL", "MSFT")
    }

    # Every row exactly once, the same values as the clean run.
    assert count_rows(database_url, "market_data") == 20
    assert distinct_keys(database_url, "market_data") == 20
    for dataset in DATASETS:
        assert count_rows(database_url, dataset) == len(clean_rows[dataset])
        assert snapshot(database_url, dataset) == clean_rows[dataset], dataset
