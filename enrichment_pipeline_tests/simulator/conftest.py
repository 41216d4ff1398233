"""Shared fixtures of the simulator tests: a simulator frozen at a fixed session, so results do
not depend on the day the tests run, and an httpx client on its in-process transport."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from enrichment_pipeline.simulator.app import PolygonSimulator

AS_OF = dt.date(2025, 6, 27)  # a Friday session
BASE_URL = "http://polygon-simulator"


@pytest.fixture
def sim() -> PolygonSimulator:
    return PolygonSimulator(as_of=AS_OF)


@pytest.fixture
def client(sim: PolygonSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=sim.transport(), base_url=BASE_URL) as c:
        yield c


def follow_pages(client: httpx.Client, url: str, max_pages: int = 500) -> list[dict]:
    """Every page of a listing, following ``next_url`` (same host only)."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        url = body.get("next_url")
        if url:
            assert url.startswith(BASE_URL + "/"), url
        assert len(pages) <= max_pages, "pagination does not end"
    return pages
