"""Fixtures of the security tests: loopback simulators that record what reached them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from dagster import DagsterInstance

from enrichment_pipeline.simulator import PolygonSimulator, start_in_thread
from enrichment_pipeline.simulator.server import SimulatorHTTPServer
from enrichment_pipeline_tests.faults.support import AS_OF


class RecordingSimulator(PolygonSimulator):
    """A simulator that also keeps the ``Authorization`` header of every request it is sent
    (the stock simulator never looks at headers beyond checking the key)."""

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.authorizations: list[str | None] = []

    def handle_http(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.startswith("/_sim/"):
            self.authorizations.append(request.headers.get("authorization"))
        return super().handle_http(request)


def serve(simulator: PolygonSimulator) -> SimulatorHTTPServer:
    server, _ = start_in_thread(port=0, simulator=simulator)
    return server


@pytest.fixture
def simulator() -> Iterator[SimulatorHTTPServer]:
    server = serve(RecordingSimulator(as_of=AS_OF))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def foreign_server() -> Iterator[SimulatorHTTPServer]:
    """Another loopback host, the one a hostile ``next_url`` or redirect points to."""
    server = serve(RecordingSimulator(as_of=AS_OF))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def instance(dagster_instance: DagsterInstance) -> DagsterInstance:
    """The shared ephemeral instance of the top-level conftest, under this folder's name."""
    return dagster_instance
