"""Fault injection, auth, stats and pagination through the in-process httpx transport."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from enrichment_pipeline.simulator.app import PolygonSimulator
from enrichment_pipeline.simulator.faults import FOREIGN_HOST, RATE_LIMIT_MESSAGE, Faults

from .conftest import AS_OF, BASE_URL, follow_pages

pytestmark = pytest.mark.fault

AGGS = "/v2/aggs/ticker/AAPL/range/1/day/2024-01-01/2024-03-31"
SECRET = "sk-test-3f1d2c"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---- rate limit --------------------------------------------------------------------------------


def test_rate_limit_sliding_window() -> None:
    clock = FakeClock()
    sim = PolygonSimulator(as_of=AS_OF, faults=Faults(clock=clock))
    sim.faults.rate_limit_per_minute = 3
    with httpx.Client(transport=sim.transport(), base_url=BASE_URL) as client:
        for _ in range(3):
            assert client.get(AGGS).status_code == 200
            clock.now += 10
        limited = client.get(AGGS)
        assert limited.status_code == 429
        assert limited.json() == {"status": "ERROR", "request_id": limited.json()["request_id"], "error": RATE_LIMIT_MESSAGE}
        assert limited.headers["Retry-After"] == "30"  # the first request leaves the window at t+60
        assert limited.headers["X-Polygon-Simulator"] == "1"
        clock.now += 30
        assert client.get(AGGS).status_code == 200  # one slot freed
        assert client.get(AGGS).status_code == 429
    assert sim.stats.rate_limited == 2
    assert sim.stats.by_status == {200: 4, 429: 2}


# ---- one-shot failures -------------------------------------------------------------------------


def test_fail_next_with_retry_after(sim: PolygonSimulator, client: httpx.Client) -> None:
    sim.faults.fail_next(2, status=503, retry_after=2)
    for _ in range(2):
        r = client.get(AGGS)
        assert r.status_code == 503 and r.headers["Retry-After"] == "2" and r.json()["status"] == "ERROR"
    assert client.get(AGGS).status_code == 200
    sim.faults.fail_next(1, status=429)
    r = client.get(AGGS)
    assert r.status_code == 429 and r.json()["error"] == RATE_LIMIT_MESSAGE and "Retry-After" not in r.headers
    assert sim.stats.rate_limited == 1


def test_fail_next_matches_path_prefix(sim: PolygonSimulator, client: httpx.Client) -> None:
    sim.faults.fail_next(1, status=500, path_prefix="/v3/reference/splits")
    assert client.get(AGGS).status_code == 200
    assert client.get("/v3/reference/splits?ticker=AAPL").status_code == 500
    assert client.get("/v3/reference/splits?ticker=AAPL").status_code == 200


def test_bad_gateway_is_html(sim: PolygonSimulator, client: httpx.Client) -> None:
    sim.faults.fail_next(1, status=502)
    r = client.get(AGGS)
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        r.json()


def test_one_shot_faults_are_fifo(sim: PolygonSimulator, client: httpx.Client) -> None:
    sim.faults.fail_next(1, status=500)
    sim.faults.malformed_json_next(1)
    assert len(sim.faults.pending()) == 2
    assert client.get(AGGS).status_code == 500
    assert client.get(AGGS).status_code == 200  # the malformed one
    assert client.get(AGGS).json()["status"] == "OK"
    assert sim.faults.pending() == []


def test_malformed_json(sim: PolygonSimulator, client: httpx.Client) -> None:
    sim.faults.malformed_json_next(1)
    r = client.get(AGGS)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()
    assert client.get(AGGS).json()["resultsCount"] > 0


def test_truncated_page(sim: PolygonSimulator, client: httpx.Client) -> None:
    full = client.get(AGGS).content
    sim.faults.truncated_page_next(1)
    r = client.get(AGGS)
    assert r.status_code == 200 and len(r.content) < len(full) and r.content.startswith(b'{"ticker":"AAPL"')
    with pytest.raises(json.JSONDecodeError):
        r.json()


def test_reset_connection(sim: PolygonSimulator, client: httpx.Client) -> None:
    sim.faults.reset_connection_next(2)
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(AGGS)
    assert client.get(AGGS).status_code == 200
    assert sim.stats.by_status[0] == 2


# ---- delays ------------------------------------------------------------------------------------


def test_delay_and_client_timeout(sim: PolygonSimulator, client: httpx.Client) -> None:
    sim.faults.delay_seconds = 0.05
    started = time.perf_counter()
    assert client.get(AGGS).status_code == 200
    assert time.perf_counter() - started >= 0.05
    sim.faults.delay_seconds = 5.0
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        client.get(AGGS, timeout=0.1)
    assert time.perf_counter() - started < 1.0
    sim.faults.delay_seconds = 0.0
    sim.faults.delay_next(1, seconds=5.0)
    with pytest.raises(httpx.ReadTimeout):
        client.get(AGGS, timeout=0.05)
    assert client.get(AGGS, timeout=0.05).status_code == 200


# ---- pagination faults -------------------------------------------------------------------------


def _cursor(url: str) -> str:
    return parse_qs(urlsplit(url).query)["cursor"][0]


def test_pagination_loop(sim: PolygonSimulator, client: httpx.Client) -> None:
    sim.faults.pagination_loop = True
    first = client.get("/v3/reference/splits?ticker=AAPL&limit=1").json()
    second = client.get(first["next_url"]).json()
    third = client.get(second["next_url"]).json()
    assert _cursor(second["next_url"]) == _cursor(first["next_url"]) == _cursor(third["next_url"])
    # even a listing that fits one page keeps pointing somewhere
    assert "next_url" in client.get("/v3/reference/splits?ticker=AAPL&limit=1000").json()


def test_foreign_next_url(sim: PolygonSimulator, client: httpx.Client) -> None:
    sim.faults.foreign_next_url = True
    body = client.get("/v3/reference/dividends?ticker=KO&limit=2").json()
    assert body["next_url"].startswith(FOREIGN_HOST + "/v3/reference/dividends?cursor=")
    sim.faults.foreign_next_url = "https://attacker.invalid"
    assert client.get(AGGS + "?limit=5").json()["next_url"].startswith("https://attacker.invalid/v2/aggs/")


# ---- bad records -------------------------------------------------------------------------------


def _bad(bar: dict) -> bool:
    return not isinstance(bar.get("c"), float) or bar["v"] < 0


def test_bad_records_for_symbols(sim: PolygonSimulator, client: httpx.Client) -> None:
    sim.faults.bad_records_for_symbols = {"BADX"}
    url = "/v2/aggs/ticker/BADX/range/1/day/2024-01-01/2024-06-30"
    bars = client.get(url).json()["results"]
    bad = [b for b in bars if _bad(b)]
    assert 0.1 * len(bars) < len(bad) < 0.45 * len(bars)
    kinds = {("c" not in b) and "missing" or (b.get("c") == "abc" and "type") or "negative" for b in bad}
    assert kinds == {"missing", "type", "negative"}
    assert client.get(url).json()["results"] == bars  # deterministic
    assert not any(_bad(b) for b in client.get("/v2/aggs/ticker/AAPL/range/1/day/2024-01-01/2024-06-30").json()["results"])
    # other endpoints too
    dividends = client.get("/v3/reference/dividends?ticker=BADX&limit=1000").json()["results"]
    assert any(not isinstance(d.get("cash_amount"), float) or d["cash_amount"] < 0 or "ex_dividend_date" not in d for d in dividends) or not dividends
    news = client.get("/v2/reference/news?ticker=BADX&limit=200").json()["results"]
    assert any("published_utc" not in n or n["published_utc"] == "abc" or n["tickers"] == "abc" for n in news)


def test_bad_record_rate_for_every_symbol(sim: PolygonSimulator, client: httpx.Client) -> None:
    sim.faults.bad_record_rate = 0.1
    bars = client.get("/v2/aggs/ticker/MSFT/range/1/day/2023-01-01/2024-12-31").json()["results"]
    assert 0.05 * len(bars) < sum(map(_bad, bars)) < 0.2 * len(bars)


# ---- auth and secrecy --------------------------------------------------------------------------


def test_api_key_required_and_never_leaked() -> None:
    sim = PolygonSimulator(api_key=SECRET, as_of=AS_OF)
    with httpx.Client(transport=sim.transport(), base_url=BASE_URL) as client:
        missing = client.get(AGGS)
        assert missing.status_code == 401 and missing.json()["error"] == "API Key was not provided"
        wrong = client.get(AGGS, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["status"] == "ERROR" and wrong.json()["error"] == "Unknown API Key"
        assert client.get(AGGS + "?apiKey=nope").status_code == 401
        ok = client.get(AGGS + "?limit=10", headers={"Authorization": f"Bearer {SECRET}"})
        assert ok.status_code == 200
        by_query = client.get(f"{AGGS}?limit=10&apiKey={SECRET}")
        assert by_query.status_code == 200
        for response in (missing, wrong, ok, by_query):
            assert SECRET not in response.text
        next_url = by_query.json()["next_url"]
        assert SECRET not in next_url and SECRET not in _decoded(next_url)
        page2 = client.get(next_url, headers={"Authorization": f"Bearer {SECRET}"})
        assert page2.status_code == 200
    everything = json.dumps(sim.stats.snapshot()) + repr(sim) + json.dumps(sim.faults.as_dict())
    assert SECRET not in everything and "apiKey" not in everything
    assert sim.stats.total_requests == 6


def _decoded(url: str) -> str:
    import base64

    cursor = _cursor(url)
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


def test_no_key_accepts_anything(client: httpx.Client) -> None:
    assert client.get(AGGS, headers={"Authorization": "Bearer whatever"}).status_code == 200


# ---- errors ------------------------------------------------------------------------------------


def test_unknown_path_and_bad_params(client: httpx.Client) -> None:
    r = client.get("/v9/nothing/here")
    assert r.status_code == 404 and r.json()["status"] == "NOT_FOUND" and r.headers["X-Polygon-Simulator"] == "1"
    for url in (
        "/v3/reference/dividends?limit=0",
        "/v3/reference/dividends?limit=1001",
        "/v3/reference/dividends?ex_dividend_date.gte=yesterday",
        "/v3/reference/splits?order=sideways",
        "/v2/aggs/ticker/AAPL/range/1/fortnight/2024-01-01/2024-02-01",
        "/v2/aggs/ticker/AAPL/range/1/day/2024-01-01/2024-02-01?adjusted=maybe",
        "/v3/snapshot/options/AAPL?limit=251",
        "/v2/reference/news?published_utc.gte=last-week",
        "/v3/reference/tickers?cursor=%%%",
    ):
        r = client.get(url)
        assert r.status_code == 400, url
        assert r.json()["status"] == "ERROR" and r.json()["error"] and r.json()["request_id"]


# ---- pagination completeness -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("/v2/aggs/ticker/AAPL/range/1/day/2022-01-01/2024-12-31?limit=97", "t"),
        ("/v2/aggs/ticker/AAPL/range/1/day/2022-01-01/2024-12-31?limit=97&sort=desc", "t"),
        ("/v3/reference/dividends?limit=37", "id"),
        ("/v3/reference/splits?limit=7&order=asc", "id"),
        ("/vX/reference/financials?ticker=KO&limit=9", "filing_date"),
        ("/v2/reference/news?ticker=NFLX&published_utc.gte=2023-01-01&limit=41", "id"),
        ("/v3/snapshot/options/MSFT?limit=33&sort=strike_price", "details"),
        ("/v3/reference/options/contracts?underlying_ticker=KO&limit=50&sort=expiration_date", "ticker"),
        ("/v3/reference/tickers?limit=6", "ticker"),
    ],
)
def test_every_record_exactly_once(client: httpx.Client, url: str, key: str) -> None:
    pages = follow_pages(client, url)
    paged = [r for p in pages for r in p.get("results", [])]
    base, _, query = url.partition("?")
    big_limit = {"/v2/aggs": 50000, "/v3/snapshot": 250, "/vX/reference": 100}.get(
        next((k for k in ("/v2/aggs", "/v3/snapshot", "/vX/reference") if base.startswith(k)), ""), 1000
    )
    whole = follow_pages(client, f"{base}?{'&'.join(q for q in query.split('&') if not q.startswith('limit='))}&limit={big_limit}")
    expected = [r for p in whole for r in p.get("results", [])]
    assert len(pages) > 2
    assert paged == expected
    ids = [json.dumps(r[key], sort_keys=True) if key != "filing_date" else (r["filing_date"], r["fiscal_period"], r["fiscal_year"]) for r in paged]
    assert len(set(map(str, ids))) == len(ids)


def test_next_url_only_when_more_pages(client: httpx.Client) -> None:
    body = client.get("/v3/reference/splits?ticker=AAPL&limit=1000").json()
    assert "next_url" not in body and body["results"]


def test_cursor_is_opaque_base64_of_the_query(client: httpx.Client) -> None:
    body = client.get("/v3/reference/dividends?ticker=KO&limit=2&order=asc").json()
    decoded = parse_qs(_decoded(body["next_url"]))
    assert decoded["ticker"] == ["KO"] and decoded["limit"] == ["2"] and decoded["offset"] == ["2"]


# ---- thread safety -----------------------------------------------------------------------------


def test_faults_and_stats_are_thread_safe(sim: PolygonSimulator) -> None:
    sim.faults.fail_next(40, status=500)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(transport=sim.transport(), base_url=BASE_URL) as c:
            for _ in range(25):
                code = c.get("/v3/reference/tickers?ticker=AAPL").status_code
                with lock:
                    statuses.append(code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(500) == 40 and statuses.count(200) == 160
    assert sim.stats.total_requests == 200 and sim.stats.by_prefix == {"/v3/reference/tickers": 200}


def test_configure_from_json(sim: PolygonSimulator, client: httpx.Client) -> None:
    sim.faults.configure(
        {"fail_next": [{"n": 1, "status": 503, "retry_after": 1}, {"n": 1, "status": 500}], "malformed_json_next": 1,
         "bad_records_for_symbols": ["BADX"], "rate_limit_per_minute": 100}
    )
    assert [client.get(AGGS).status_code for _ in range(2)] == [503, 500]
    with pytest.raises(ValueError):
        sim.faults.configure({"no_such_fault": 1})
    sim.faults.clear()
    assert sim.faults.as_dict()["queue"] == [] and sim.faults.rate_limit_per_minute is None
