"""The Polygon client over loopback HTTP against the project's simulator."""

import datetime as dt
import time

import pytest

from enrichment_pipeline.polygon.client import PolygonClient
from enrichment_pipeline.polygon.errors import (
    PolygonAuthError,
    PolygonNotFoundError,
    PolygonProtocolError,
    PolygonRequestError,
    PolygonRetriesExhaustedError,
)
from enrichment_pipeline.simulator.server import start_in_thread

KEY = "sk-client-test-7f3a9c"
START, END = dt.date(2025, 3, 3), dt.date(2025, 3, 14)


@pytest.fixture
def server():
    server, _ = start_in_thread(port=0, api_key=KEY)
    yield server
    server.close()


def client_for(server, **overrides) -> tuple[PolygonClient, list]:  # noqa: ANN001
    log = []
    settings = {"api_key": KEY, "backoff_initial_seconds": 0.01, "backoff_max_seconds": 0.05, "timeout_seconds": 2.0, "max_attempts": 4}
    settings.update(overrides)
    return PolygonClient(base_url=server.base_url, on_request=log.append, **settings), log


def test_the_key_travels_only_in_the_bearer_header(server):
    client, log = client_for(server)
    bars = list(client.daily_bars("AAPL", START, END))
    assert len(bars) == 10
    recent = server.simulator.stats.snapshot()["recent"] if hasattr(server.simulator.stats, "snapshot") else server.simulator.stats.recent
    assert recent and all(KEY not in str(entry) for entry in recent)
    assert all(KEY not in entry.endpoint for entry in log)
    assert client.is_simulated


def test_pagination_follows_next_url_and_returns_each_record_once(server):
    client, log = client_for(server)
    records = list(client.records("/v3/reference/dividends", {"ticker": "AAPL", "limit": 3, "order": "asc", "sort": "ex_dividend_date"}))
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) > 6
    assert len(log) == -(-len(ids) // 3)  # pages of 3
    everything = list(client.records("/v3/reference/dividends", {"ticker": "AAPL", "limit": 1000}))
    assert sorted(r["id"] for r in everything) == sorted(ids)


def test_429_with_retry_after_is_honoured_then_succeeds(server):
    server.simulator.faults.fail_next(2, status=429, retry_after=1)
    client, log = client_for(server)
    began = time.monotonic()
    assert len(list(client.daily_bars("AAPL", START, END))) == 10
    assert time.monotonic() - began >= 2.0  # two Retry-After: 1 waits, not the 0.01 s backoff
    assert [entry.status_code for entry in log] == [429, 429, 200]
    assert [entry.attempt for entry in log] == [1, 2, 3]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(server, status):
    server.simulator.faults.fail_next(2, status=status)
    client, log = client_for(server)
    assert len(list(client.daily_bars("AAPL", START, END))) == 10
    assert [entry.status_code for entry in log] == [status, status, 200]


def test_timeouts_and_connection_resets_are_retried(server):
    server.simulator.faults.delay_next(1, seconds=1.5)
    server.simulator.faults.reset_connection_next(1)
    client, log = client_for(server, timeout_seconds=0.5)
    assert len(list(client.daily_bars("AAPL", START, END))) == 10
    assert [entry.status_code for entry in log] == [None, None, 200]
    assert "timed out" in log[0].error and "connection" in log[1].error


def test_retries_run_out_with_a_typed_error_naming_the_endpoint(server):
    server.simulator.faults.fail_next(10, status=503)
    client, log = client_for(server, max_attempts=3)
    with pytest.raises(PolygonRetriesExhaustedError, match=r"/v2/aggs/ticker/AAPL/range/1/day/2025-03-03/2025-03-14.*3 attempts.*503"):
        list(client.daily_bars("AAPL", START, END))
    assert len(log) == 3


def test_a_wrong_key_is_not_retried_and_says_what_to_check(server):
    client, log = client_for(server, api_key="not-the-key-0000")
    with pytest.raises(PolygonAuthError) as caught:
        list(client.daily_bars("AAPL", START, END))
    assert caught.value.status_code == 401 and len(log) == 1
    assert "/v2/aggs/ticker/AAPL" in str(caught.value) and "POLYGON_API_KEY" in str(caught.value)
    assert "not-the-key-0000" not in str(caught.value)


def test_a_403_reports_the_vendors_message_field(server):
    server.simulator.faults.fail_next(1, status=403)
    client, log = client_for(server)
    with pytest.raises(PolygonAuthError, match="not entitled to this data") as caught:
        list(client.dividends("AAPL", START, END))
    assert caught.value.status_code == 403 and len(log) == 1


def test_bad_requests_and_unknown_paths_are_not_retried(server):
    client, log = client_for(server)
    with pytest.raises(PolygonNotFoundError):
        list(client.records("/v9/no/such/endpoint"))
    with pytest.raises(PolygonRequestError) as caught:
        list(client.records("/v2/aggs/ticker/AAPL/range/1/day/not-a-date/2025-01-01"))
    assert caught.value.status_code == 400
    assert len(log) == 2


def test_a_pagination_loop_stops_with_an_error(server):
    server.simulator.faults.pagination_loop = True
    client, log = client_for(server)
    with pytest.raises(PolygonProtocolError, match="pagination loop"):
        list(client.records("/v3/reference/dividends", {"ticker": "AAPL", "limit": 2}))
    assert len(log) <= 3


def test_malformed_json_is_retried_then_reported(server):
    server.simulator.faults.malformed_json_next(1)
    client, _ = client_for(server)
    assert len(list(client.daily_bars("AAPL", START, END))) == 10
    server.simulator.faults.truncated_page_next(10)
    with pytest.raises(PolygonProtocolError, match="not valid JSON"):
        list(client_for(server, max_attempts=2)[0].daily_bars("AAPL", START, END))


def test_a_next_url_on_another_host_is_refused_and_gets_no_request():
    foreign, foreign_url = start_in_thread(port=0)
    home, _ = start_in_thread(port=0, api_key=KEY)
    try:
        home.simulator.faults.foreign_next_url = foreign_url
        client, _ = client_for(home)
        with pytest.raises(PolygonProtocolError, match="refusing to follow next_url"):
            list(client.records("/v3/reference/dividends", {"ticker": "AAPL", "limit": 2}))
        assert foreign.simulator.stats.total_requests == 0
    finally:
        foreign.close()
        home.close()


def test_a_base_url_that_is_not_http_is_refused():
    with pytest.raises(ValueError, match="POLYGON_BASE_URL"):
        PolygonClient(base_url="ftp://example.invalid")
