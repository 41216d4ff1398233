"""Answers that break the contract (malformed JSON, truncated pages, pagination loops) and
records with wrong types: a clear error naming the endpoint, or a rejects-table entry with a
failing check, and never a half-written slice."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from enrichment_pipeline.assets.vendor import market_data
from enrichment_pipeline.storage import schema
from enrichment_pipeline.storage.engine import get_engine
from enrichment_pipeline_tests.faults.support import (
    DATASETS,
    DAYS,
    NEWS,
    SYMBOLS,
    aggs_prefix,
    bar_times,
    check_outcomes,
    count_rows,
    failure_text,
    fetch_times,
    requests_to,
    run_assets,
    snapshot,
    step_retries,
)

pytestmark = pytest.mark.fault

AAPL_BARS = "/v2/aggs/ticker/AAPL/range/1/day/2025-06-02/2025-06-13"
MSFT_BARS = "/v2/aggs/ticker/MSFT/range/1/day/2025-06-02/2025-06-13"
AAPL_NEWS = "/v2/reference/news?ticker=AAPL"


def _times(database_url: str) -> dict[tuple[str, str], set]:
    return {(dataset, symbol): fetch_times(database_url, dataset, symbol) for dataset in DATASETS for symbol in SYMBOLS}


def _malformed_msft_bars(faults) -> None:  # noqa: ANN001
    faults.malformed_json_next(1000, path_prefix=aggs_prefix("MSFT"))


def _truncated_news(faults) -> None:  # noqa: ANN001
    faults.truncated_page_next(1000, path_prefix=NEWS)


def _pagination_loop(faults) -> None:  # noqa: ANN001
    faults.pagination_loop = True


CASES = {
    # (program, texts the failure must contain, (dataset, symbol) slices the failed steps leave untouched)
    "malformed_json": (
        _malformed_msft_bars,
        [MSFT_BARS, "gave up after 5 attempts", "response body is not valid JSON"],
        {("market_data", "MSFT")},
    ),
    "truncated_page": (
        _truncated_news,
        [AAPL_NEWS, "gave up after 5 attempts", "response body is not valid JSON"],
        {("news", "AAPL"), ("news", "MSFT")},
    ),
    "pagination_loop": (
        _pagination_loop,
        [AAPL_BARS, AAPL_NEWS, "next_url it had already sent (pagination loop)"],
        {(dataset, symbol) for dataset in DATASETS for symbol in SYMBOLS},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_broken_answer_fails_the_run_naming_the_endpoint_and_leaves_stored_slices_untouched(name, database_url, simulator, instance, clean_rows):
    program, texts, untouched = CASES[name]
    sim = simulator.simulator
    seeded = run_assets(database_url, simulator.base_url, instance)
    assert seeded.success
    before = _times(database_url)

    program(sim.faults)
    sim.reset_stats()
    result = run_assets(database_url, simulator.base_url, instance)

    assert not result.success
    message = failure_text(result)
    for text in texts:
        assert text in message, (text, message)
    # Nothing half-written: the failed streams' slices keep the rows (and fetch times) they had;
    # slices a step did finish before failing were replaced whole, by one write.
    after = _times(database_url)
    for key in untouched:
        assert after[key] == before[key], key
    for key in set(before) - untouched:
        assert len(after[key]) == 1 and after[key] != before[key], key
    for dataset in DATASETS:
        assert snapshot(database_url, dataset) == clean_rows[dataset], dataset
    assert count_rows(database_url, "market_data") == 20

    # Each try of a failing step (the first, then RetryPolicy's retries) ran the client's
    # attempts and stopped there.
    tries = {dataset: 1 + step_retries(result, dataset) for dataset in DATASETS}
    if name == "malformed_json":
        assert tries == {"market_data": 4, "news": 1}
        assert requests_to(sim, aggs_prefix("MSFT")) == 5 * tries["market_data"]  # 5 HTTP attempts per try
    if name == "truncated_page":
        assert tries == {"market_data": 1, "news": 4}
        assert requests_to(sim, NEWS) == 5 * tries["news"]  # AAPL's stream, 5 attempts per try; MSFT never reached
    if name == "pagination_loop":
        assert tries == {"market_data": 1, "news": 1}  # a loop will loop again: no step retry
        # Page 1, then page 2 whose next_url repeats its own cursor: stopped there, every try.
        aapl_bars = [line for line in sim.stats.recent if aggs_prefix("AAPL") in line]
        assert len(aapl_bars) == 2 * tries["market_data"]
        assert sum("cursor=" in line for line in aapl_bars) == tries["market_data"]
        assert requests_to(sim, aggs_prefix("MSFT")) == 0 and requests_to(sim, NEWS) == 2 * tries["news"]

    # The fault gone, a rerun completes every slice with fresh rows.
    sim.faults.clear()
    rerun = run_assets(database_url, simulator.base_url, instance)
    assert rerun.success, failure_text(rerun)
    final = _times(database_url)
    for key in before:
        assert len(final[key]) == 1 and final[key] != before[key], key
    for dataset in DATASETS:
        assert snapshot(database_url, dataset) == clean_rows[dataset], dataset


def test_records_with_wrong_types_go_to_rejected_records_with_a_failing_check(database_url, simulator, instance, clean_rows):
    sim = simulator.simulator
    sim.faults.bad_records_for_symbols = {"MSFT"}
    clean_bars = {row[1]: row for row in clean_rows["market_data"] if row[0] == "MSFT"}
    # The simulator corrupts a record as a pure function of (endpoint, symbol, bar time).
    kinds = {day: sim.faults.bad_record_kind("aggs", "MSFT", t) for day, t in bar_times("MSFT").items()}
    bad_days = {day for day, kind in kinds.items() if kind}
    assert sorted(k for k in kinds.values() if k) == ["missing_field", "negative", "wrong_type", "wrong_type"]

    result = run_assets(database_url, simulator.base_url, instance, assets=[market_data])

    assert result.success, failure_text(result)  # bad records are kept aside, not fatal
    checks = check_outcomes(result)
    assert checks[("market_data", "no_rejected_records")] is False
    assert all(passed for key, passed in checks.items() if key != ("market_data", "no_rejected_records")), checks
    metadata = result.asset_materializations_for_node("market_data")[0].metadata
    assert metadata["rejected_records"].value == 4
    assert metadata["dagster/row_count"].value == 16
    assert count_rows(database_url, "market_data", "AAPL") == 10
    assert count_rows(database_url, "market_data", "MSFT") == 6
    stored = {row[1]: row for row in snapshot(database_url, "market_data", ["MSFT"])}
    assert set(stored) == set(DAYS) - bad_days
    assert all(stored[day] == clean_bars[day] for day in stored)  # the good ones are intact

    with get_engine(database_url).connect() as connection:
        rejects = connection.execute(select(schema.rejected_records)).mappings().all()
    assert len(rejects) == 4
    assert {r["dataset"] for r in rejects} == {"market_data"} and {r["symbol"] for r in rejects} == {"MSFT"}
    assert {r["run_id"] for r in rejects} == {result.run_id}
    reasons = sorted(r["reason"] for r in rejects)
    assert sum("c: Input should be a valid number" in reason for reason in reasons) == 2, reasons
    assert sum(reason.startswith("c: Field required") for reason in reasons) == 1, reasons
    assert sum(reason.startswith("v:") for reason in reasons) == 1, reasons
    assert sum(json.loads(r["payload"]).get("c") == "abc" for r in rejects) == 2

    # The same bad records again: still one row each in rejected_records, the same stored rows.
    again = run_assets(database_url, simulator.base_url, instance, assets=[market_data])
    assert again.success
    with get_engine(database_url).connect() as connection:
        assert len(connection.execute(select(schema.rejected_records)).all()) == 4
    assert count_rows(database_url, "market_data") == 16


def test_a_corrupted_resend_does_not_delete_the_good_row_stored_before(sqlite_url, simulator, instance, clean_rows):
    assert run_assets(sqlite_url, simulator.base_url, instance, assets=[market_data]).success
    simulator.simulator.faults.bad_records_for_symbols = {"MSFT"}
    result = run_assets(sqlite_url, simulator.base_url, instance, assets=[market_data])
    assert result.success
    assert snapshot(sqlite_url, "market_data") == clean_rows["market_data"]
