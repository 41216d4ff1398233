"""The loopback server: same answers as in-process, faults driven over HTTP, the CLI entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from enrichment_pipeline.simulator.app import PolygonSimulator
from enrichment_pipeline.simulator.faults import RATE_LIMIT_MESSAGE
from enrichment_pipeline.simulator.server import SimulatorHTTPServer, start_in_thread

from .conftest import AS_OF, BASE_URL

pytestmark = pytest.mark.fault

AGGS = "/v2/aggs/ticker/AAPL/range/1/day/2024-01-01/2024-03-31"
SECRET = "sk-loopback-9a8b7c"


@pytest.fixture
def server() -> Iterator[tuple[SimulatorHTTPServer, str]]:
    srv, base_url = start_in_thread(port=0, as_of=AS_OF)
    try:
        yield srv, base_url
    finally:
        srv.close()


@pytest.fixture
def http(server: tuple[SimulatorHTTPServer, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[1], timeout=5.0) as c:
        yield c


def test_same_answers_as_in_process(server, http: httpx.Client) -> None:
    r = http.get(AGGS + "?limit=10")
    assert r.status_code == 200 and r.headers["X-Polygon-Simulator"] == "1"
    assert r.headers["content-type"] == "application/json"
    with httpx.Client(transport=PolygonSimulator(as_of=AS_OF).transport(), base_url=BASE_URL) as local:
        expected = local.get(AGGS + "?limit=10").json()
    body = r.json()
    assert body["results"] == expected["results"]
    assert body["next_url"].startswith(server[1] + "/v2/aggs/ticker/AAPL/")  # same host as the request


def test_pagination_over_loopback(server, http: httpx.Client) -> None:
    url, seen = "/v3/reference/options/contracts?underlying_ticker=AAPL&limit=100", []
    while url:
        body = http.get(url).json()
        seen += [r["ticker"] for r in body["results"]]
        url = body.get("next_url")
        if url:
            assert url.startswith(server[1])
    assert len(seen) == len(set(seen)) > 300


def test_keep_alive_reuses_one_connection(http: httpx.Client) -> None:
    ports = set()
    for _ in range(5):
        r = http.get("/v3/reference/tickers?ticker=AAPL", extensions={})
        assert r.status_code == 200 and r.headers.get("connection", "").lower() != "close"
        stream = r.extensions.get("network_stream")
        if stream is not None:
            ports.add(stream.get_extra_info("client_addr"))
    assert len(ports) <= 1


def test_control_endpoints(http: httpx.Client) -> None:
    spec = {"fail_next": {"n": 1, "status": 503, "retry_after": 3}, "truncated_page_next": 1, "malformed_json_next": 1}
    r = http.post("/_sim/faults", json=spec)
    assert r.status_code == 200 and len(r.json()["queue"]) == 3
    failed = http.get(AGGS)
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "3"
    truncated = http.get(AGGS)
    assert truncated.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        truncated.json()
    with pytest.raises(json.JSONDecodeError):
        http.get(AGGS).json()
    assert http.get(AGGS).json()["status"] == "OK"
    stats = http.get("/_sim/stats").json()
    assert stats["total_requests"] == 4 and stats["by_status"] == {"200": 3, "503": 1}
    assert stats["by_prefix"] == {"/v2/aggs": 4} and stats["recent"][-1] == f"GET {AGGS}"
    assert http.post("/_sim/faults", json={"no_such_fault": True}).status_code == 400
    assert http.post("/_sim/faults", content=b"{not json").status_code == 400
    assert http.post("/_sim/reset").json() == {"status": "OK"}
    assert http.get("/_sim/stats").json()["total_requests"] == 0
    assert http.get("/_sim/faults").json()["queue"] == []


def test_rate_limit_over_http(http: httpx.Client) -> None:
    http.post("/_sim/faults", json={"rate_limit_per_minute": 2})
    assert [http.get(AGGS).status_code for _ in range(3)] == [200, 200, 429]
    limited = http.get(AGGS)
    assert limited.json()["error"] == RATE_LIMIT_MESSAGE and 55 <= int(limited.headers["Retry-After"]) <= 60
    assert http.get("/_sim/stats").json()["rate_limited"] == 2
    http.post("/_sim/reset")
    assert http.get(AGGS).status_code == 200


def test_reset_connection_over_loopback(server, http: httpx.Client) -> None:
    server[0].simulator.faults.reset_connection_next(1)
    with pytest.raises(httpx.TransportError):  # RemoteProtocolError or ReadError, as with a real reset
        http.get(AGGS)
    assert http.get(AGGS).status_code == 200
    assert http.get("/_sim/stats").json()["by_status"] == {"0": 1, "200": 1}


def test_slow_response_times_out_the_client(http: httpx.Client) -> None:
    http.post("/_sim/faults", json={"delay_next": {"n": 1, "seconds": 1.0}})
    with pytest.raises(httpx.ReadTimeout):
        http.get(AGGS, timeout=0.2)
    assert http.get(AGGS).status_code == 200


def test_foreign_next_url_and_pagination_loop_over_http(http: httpx.Client) -> None:
    http.post("/_sim/faults", json={"foreign_next_url": True})
    assert http.get(AGGS + "?limit=5").json()["next_url"].startswith("http://evil.example.invalid/")
    http.post("/_sim/faults", json={"clear": True, "pagination_loop": True})
    first = http.get(AGGS + "?limit=5").json()["next_url"]
    assert http.get(first).json()["next_url"] == first


def test_bad_records_over_http(http: httpx.Client) -> None:
    http.post("/_sim/faults", json={"bad_records_for_symbols": ["BADX"]})
    bars = http.get("/v2/aggs/ticker/BADX/range/1/day/2024-01-01/2024-06-30").json()["results"]
    assert any(not isinstance(b.get("c"), float) or b["v"] < 0 for b in bars)


def test_auth_over_loopback_never_leaks_the_key() -> None:
    srv, base_url = start_in_thread(port=0, api_key=SECRET, as_of=AS_OF)
    try:
        with httpx.Client(base_url=base_url) as http:
            assert http.get(AGGS).status_code == 401
            assert http.get(AGGS, headers={"Authorization": "Bearer wrong"}).json()["error"] == "Unknown API Key"
            ok = http.get(f"{AGGS}?limit=5&apiKey={SECRET}")
            assert ok.status_code == 200 and SECRET not in ok.json()["next_url"]
            assert http.get(ok.json()["next_url"], headers={"Authorization": f"Bearer {SECRET}"}).status_code == 200
            stats = http.get("/_sim/stats").text
            assert SECRET not in stats and "apiKey" not in stats
    finally:
        srv.close()


def test_cli_entry_point() -> None:
    env = {**os.environ, "SIM_TEST_KEY": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "enrichment_pipeline.simulator", "--port", "0", "--api-key-env", "SIM_TEST_KEY",
         "--rate-limit-per-minute", "2", "--as-of", AS_OF.isoformat()],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        first_line = proc.stdout.readline().strip()
        assert first_line.startswith("Polygon simulator listening on http://127.0.0.1:"), first_line
        base_url = first_line.rsplit(" ", 1)[1]
        auth = {"Authorization": f"Bearer {SECRET}"}
        with httpx.Client(base_url=base_url, headers=auth, timeout=10) as http:
            assert [http.get("/v3/reference/tickers?ticker=AAPL").status_code for _ in range(3)] == [200, 200, 429]
            assert SECRET not in http.get("/_sim/stats").text
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert SECRET not in err
