"""The key stays on the configured host: a ``next_url`` or a redirect to another host is refused
with an error naming that host, and the other host never receives a request."""

from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from enrichment_pipeline.assets.vendor import market_data
from enrichment_pipeline.polygon.client import PolygonClient
from enrichment_pipeline.polygon.errors import PolygonProtocolError
from enrichment_pipeline.simulator.faults import FOREIGN_HOST
from enrichment_pipeline_tests.faults.support import AS_OF, count_rows, failure_text, run_assets, step_retries
from enrichment_pipeline_tests.security.conftest import RecordingSimulator, serve

pytestmark = pytest.mark.security

KEY = f"sk-test-ZZZ-{uuid.uuid4()}"


@pytest.fixture
def keyed_server():
    server = serve(RecordingSimulator(api_key=KEY, as_of=AS_OF))
    try:
        yield server
    finally:
        server.close()


def _client(base_url: str) -> PolygonClient:
    return PolygonClient(base_url=base_url, api_key=KEY, backoff_initial_seconds=0.01, backoff_max_seconds=0.02, timeout_seconds=5)


@pytest.mark.parametrize("target", ["foreign_server", "other_scheme", "default_evil_host"])
def test_a_next_url_to_another_host_is_refused_and_gets_no_request(target, keyed_server, foreign_server):
    foreign = {
        "foreign_server": foreign_server.base_url,  # 127.0.0.1, another port
        "other_scheme": keyed_server.base_url.replace("http://", "https://"),  # same host:port, TLS
        "default_evil_host": True,  # http://evil.example.invalid
    }[target]
    keyed_server.simulator.faults.foreign_next_url = foreign
    named = FOREIGN_HOST if foreign is True else foreign

    seen = []
    with _client(keyed_server.base_url) as client, pytest.raises(PolygonProtocolError) as raised:
        for record in client.records("/v3/reference/tickers", {"limit": 5}):  # 20 tickers: 4 pages
            seen.append(record)

    assert str(raised.value) == (
        f"/v3/reference/tickers?limit=5: refusing to follow next_url to {named}, "
        "which is not the configured POLYGON_BASE_URL host"
    )
    assert raised.value.endpoint == "/v3/reference/tickers?limit=5"
    assert len(seen) == 5  # the first page, from the configured host
    assert keyed_server.simulator.authorizations == [f"Bearer {KEY}"]
    assert foreign_server.simulator.stats.total_requests == 0
    assert foreign_server.simulator.authorizations == []
    assert KEY not in str(raised.value)


def test_a_run_meeting_a_foreign_next_url_fails_naming_the_host_and_writes_nothing(sqlite_url, keyed_server, foreign_server, instance):
    faults = keyed_server.simulator.faults
    faults.pagination_loop = True  # every listing gets a next_url ...
    faults.foreign_next_url = foreign_server.base_url  # ... pointing at the other host
    result = run_assets(sqlite_url, keyed_server.base_url, instance, assets=[market_data], api_key=KEY)

    assert not result.success
    message = failure_text(result)
    assert f"refusing to follow next_url to {foreign_server.base_url}" in message
    assert "/v2/aggs/ticker/AAPL/range/1/day/2025-06-02/2025-06-13" in message
    assert KEY not in message
    assert foreign_server.simulator.stats.total_requests == 0
    tries = 1 + step_retries(result, "market_data")
    # One first page per try, with the key, to the configured host only.
    assert keyed_server.simulator.authorizations == [f"Bearer {KEY}"] * tries
    assert count_rows(sqlite_url, "market_data") == 0  # page 1 was fine, but the slice is never half-written


class _Redirector(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(302)
        self.send_header("Location", f"{self.target}{self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def test_a_redirect_to_another_host_is_not_followed(foreign_server):
    handler = type("Redirector", (_Redirector,), {"target": foreign_server.base_url})
    redirector = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=redirector.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{redirector.server_address[1]}"
    try:
        with _client(base_url) as client, pytest.raises(PolygonProtocolError) as raised:
            list(client.daily_bars("AAPL", AS_OF, AS_OF))
    finally:
        redirector.shutdown()
        redirector.server_close()
    message = str(raised.value)
    assert message == (
        "/v2/aggs/ticker/AAPL/range/1/day/2025-06-27/2025-06-27?adjusted=false&sort=asc&limit=50000: "
        f"HTTP 302 redirect to {foreign_server.base_url} not followed; point POLYGON_BASE_URL at the API host itself"
    )
    assert foreign_server.simulator.stats.total_requests == 0
