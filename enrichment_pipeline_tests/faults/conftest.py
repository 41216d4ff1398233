"""Fixtures of the fault-injection tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dagster import DagsterInstance

from enrichment_pipeline.simulator import start_in_thread
from enrichment_pipeline.simulator.server import SimulatorHTTPServer
from enrichment_pipeline_tests.faults.support import AS_OF, clean_reference


@pytest.fixture
def simulator() -> Iterator[SimulatorHTTPServer]:
    """A loopback Polygon simulator (HTTP over 127.0.0.1), market frozen at ``AS_OF``."""
    server, _ = start_in_thread(port=0, as_of=AS_OF)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def instance(dagster_instance: DagsterInstance) -> DagsterInstance:
    """The shared ephemeral instance of the top-level conftest, under this folder's name."""
    return dagster_instance


@pytest.fixture(scope="session")
def clean_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    """market_data and news of AAPL, MSFT over the 10 sessions, from a fault-free run."""
    url = f"sqlite:///{tmp_path_factory.mktemp('clean') / 'clean.db'}"
    rows = clean_reference(url)
    assert len(rows["market_data"]) == 20  # 2 symbols × 10 sessions, one bar each
    assert rows["news"], "the reference window must hold some articles"
    return rows
