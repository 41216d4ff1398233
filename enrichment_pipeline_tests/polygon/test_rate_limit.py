"""The token bucket is shared through the database by separate processes."""

import multiprocessing
import time

import pytest

from enrichment_pipeline.polygon.rate_limit import PACING_MARGIN, DatabaseTokenBucket
from enrichment_pipeline.storage.engine import create_database_engine


def _take_tokens(url: str, rate: float, count: int, queue) -> None:  # noqa: ANN001
    engine = create_database_engine(url)
    bucket = DatabaseTokenBucket(engine, rate)
    stamps = []
    for _ in range(count):
        bucket.acquire()
        stamps.append(time.time())
    queue.put(stamps)
    engine.dispose()


def test_processes_sharing_a_database_share_one_budget(engine, database_url):
    rate_per_minute = 600.0  # 10 per second
    processes, per_process = 3, 8
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_take_tokens, args=(database_url, rate_per_minute, per_process, queue)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    stamps = sorted(stamp for _ in workers for stamp in queue.get(timeout=60))
    for worker in workers:
        worker.join(timeout=30)
    interval = 60.0 / (rate_per_minute * PACING_MARGIN)
    # 24 tokens from one bucket of burst 1: the last is granted at least 23 intervals after the first.
    assert stamps[-1] - stamps[0] >= (len(stamps) - 1) * interval * 0.97
    # and no two processes were ever granted tokens closer than the pacing allows on average
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert min(gaps) > 0
    assert sum(gaps) / len(gaps) >= interval * 0.97


def test_a_full_bucket_grants_its_burst_then_paces(engine):
    now = [1000.0]
    slept = []
    bucket = DatabaseTokenBucket(engine, 60.0, burst=3, clock=lambda: now[0], sleep=lambda s: (slept.append(s), now.__setitem__(0, now[0] + s)))
    for _ in range(3):
        assert bucket.acquire() == 0.0
    waited = bucket.acquire()
    assert waited == pytest.approx(1 / PACING_MARGIN, rel=1e-6)


@pytest.mark.parametrize("rate,burst", [(0, 1), (-5, 1), (5, 0.5)])
def test_nonsense_limits_are_refused(engine, rate, burst):
    with pytest.raises(ValueError):
        DatabaseTokenBucket(engine, rate, burst=burst)
