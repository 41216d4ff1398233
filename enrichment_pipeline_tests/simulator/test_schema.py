"""Every simulator endpoint answers with JSON that validates against the vendor's own 200-response
schema in ``openapi.json`` (several symbols, with and without filters, first and later pages)."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft7Validator

from enrichment_pipeline.simulator import option_chain

from .conftest import BASE_URL

AGGS = "/v2/aggs/ticker/{stocksTicker}/range/{multiplier}/{timespan}/{from}/{to}"
OPTION_AGGS = "/v2/aggs/ticker/{optionsTicker}/range/{multiplier}/{timespan}/{from}/{to}"
DIVIDENDS = "/v3/reference/dividends"
SPLITS = "/v3/reference/splits"
FINANCIALS = "/vX/reference/financials"
NEWS = "/v2/reference/news"
SNAPSHOT = "/v3/snapshot/options/{underlyingAsset}"
CONTRACTS = "/v3/reference/options/contracts"
CONTRACT = "/v3/reference/options/contracts/{options_ticker}"
TICKERS = "/v3/reference/tickers"
SYMBOLS = ("AAPL", "MSFT", "KO", "ZZZQ")
_DROP = {"example", "examples", "description", "externalDocs", "xml", "deprecated", "readOnly", "writeOnly", "discriminator"}


def fixtures_dir() -> Path:
    """``$POLYGON_FIXTURES_DIR``, else ``../shared/polygon_fixtures`` next to the repository."""
    override = os.environ.get("POLYGON_FIXTURES_DIR")
    if override:
        return Path(override)
    repo_root = Path(__file__).resolve().parents[2]
    return (repo_root / ".." / "shared" / "polygon_fixtures").resolve()


@lru_cache(maxsize=1)
def openapi() -> dict:
    path = fixtures_dir() / "openapi.json"
    if not path.is_file():
        pytest.fail(f"vendor spec not found at {path}; set POLYGON_FIXTURES_DIR")
    return json.loads(path.read_text())


def to_jsonschema(node: object, doc: dict, seen: tuple[str, ...] = ()) -> object:
    """OpenAPI 3.0 schema -> JSON Schema: inline ``$ref``s, turn ``nullable`` into a null type."""
    if isinstance(node, list):
        return [to_jsonschema(item, doc, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/") and ref not in seen, ref
        target: object = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]  # type: ignore[index]
        return to_jsonschema(target, doc, seen + (ref,))
    out = {k: to_jsonschema(v, doc, seen) for k, v in node.items() if k not in _DROP and not k.startswith("x-")}
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@lru_cache(maxsize=None)
def validator(path: str) -> Draft7Validator:
    operation = openapi()["paths"][path]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return Draft7Validator(to_jsonschema(schema, openapi()), format_checker=Draft7Validator.FORMAT_CHECKER)


def assert_valid(path: str, body: dict) -> None:
    errors = sorted(validator(path).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def check_pages(client: httpx.Client, spec_path: str, url: str, pages: int = 3, expect_results: bool = True) -> list[dict]:
    """Validate the first ``pages`` pages of a listing; return their bodies."""
    bodies, first_url = [], url
    while url and len(bodies) < pages:
        response = client.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["X-Polygon-Simulator"] == "1"
        body = response.json()
        assert_valid(spec_path, body)
        assert body["status"] == "OK"
        bodies.append(body)
        url = body.get("next_url")
        if url:
            assert url.startswith(BASE_URL + "/") and "cursor=" in url
    if expect_results:
        assert any(b.get("results") for b in bodies), f"no results for {first_url}"
    return bodies


def test_spec_is_the_vendor_spec() -> None:
    doc = openapi()
    assert doc["openapi"].startswith("3.0")
    for path in (AGGS, OPTION_AGGS, DIVIDENDS, SPLITS, FINANCIALS, NEWS, SNAPSHOT, CONTRACTS, CONTRACT, TICKERS):
        assert path in doc["paths"], path


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_aggs(client: httpx.Client, symbol: str) -> None:
    check_pages(client, AGGS, f"/v2/aggs/ticker/{symbol}/range/1/day/2024-01-01/2024-06-30?limit=40")
    check_pages(client, AGGS, f"/v2/aggs/ticker/{symbol}/range/1/day/2010-01-01/2012-12-31?adjusted=false&sort=desc&limit=300")
    check_pages(client, AGGS, f"/v2/aggs/ticker/{symbol}/range/1/week/2023-01-01/2023-12-31")
    check_pages(client, AGGS, f"/v2/aggs/ticker/{symbol}/range/1/day/1704067200000/1706745600000")


def test_aggs_empty_range_omits_results(client: httpx.Client) -> None:
    body = check_pages(client, AGGS, "/v2/aggs/ticker/AAPL/range/1/day/2024-01-06/2024-01-07", expect_results=False)[0]
    assert "results" not in body and body["resultsCount"] == 0 and body["queryCount"] == 0


@pytest.mark.parametrize("symbol", SYMBOLS[:3])
def test_option_aggs(client: httpx.Client, symbol: str) -> None:
    spot = client.get(f"/v2/aggs/ticker/{symbol}/range/1/day/2025-03-03/2025-03-03?adjusted=false").json()["results"][0]["c"]
    url = (
        f"/v3/reference/options/contracts?underlying_ticker={symbol}&as_of=2025-03-03&limit=40"
        f"&strike_price.gte={spot * 0.95}&strike_price.lte={spot * 1.05}"
    )
    contracts = client.get(url).json()
    assert_valid(CONTRACTS, contracts)
    for record in contracts["results"][::7]:  # near the money: these trade most days
        check_pages(client, OPTION_AGGS, f"/v2/aggs/ticker/{record['ticker']}/range/1/day/2024-09-01/2025-06-27?limit=20")


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?ticker=AAPL",
        "?ticker=KO&limit=3",
        "?ticker=MSFT&ex_dividend_date.gte=2015-01-01&ex_dividend_date.lt=2020-01-01&order=asc&limit=5",
        "?ex_dividend_date.gte=2024-01-01&sort=pay_date&limit=7",
        "?dividend_type=CD&frequency=4&cash_amount.gt=0.1&limit=50",
    ],
)
def test_dividends(client: httpx.Client, query: str) -> None:
    check_pages(client, DIVIDENDS, DIVIDENDS + query)


@pytest.mark.parametrize(
    "query",
    ["", "?ticker=AAPL", "?ticker=NFLX&limit=2", "?execution_date.gte=2010-01-01&order=asc&limit=4", "?reverse_split=true&limit=3"],
)
def test_splits(client: httpx.Client, query: str) -> None:
    check_pages(client, SPLITS, SPLITS + query)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?ticker=AAPL",
        "?ticker=MSFT&timeframe=quarterly&limit=4",
        "?ticker=KO&timeframe=annual&sort=filing_date&order=asc&limit=3",
        "?ticker=ZZZQ&timeframe=ttm&filing_date.gte=2020-01-01",
        "?ticker=AAPL&period_of_report_date.gte=2022-01-01&period_of_report_date.lt=2023-01-01&limit=100",
    ],
)
def test_financials(client: httpx.Client, query: str) -> None:
    check_pages(client, FINANCIALS, FINANCIALS + query)


def test_financials_without_matches_keeps_results(client: httpx.Client) -> None:
    body = check_pages(client, FINANCIALS, FINANCIALS + "?ticker=AAPL&filing_date.lt=2001-01-01", expect_results=False)[0]
    assert body["results"] == [] and body["count"] == 0


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?ticker=AAPL",
        "?ticker=MSFT&limit=50",
        "?ticker=KO&published_utc.gte=2024-01-01&published_utc.lt=2024-02-01T12:00:00Z&order=asc&limit=5",
        "?published_utc.gt=2025-06-01T00:00:00Z&limit=20",
    ],
)
def test_news(client: httpx.Client, query: str) -> None:
    check_pages(client, NEWS, NEWS + query)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?limit=250",
        "?contract_type=put&limit=50",
        "?strike_price.gte=50&strike_price.lte=150&expiration_date.gte=2025-07-01&sort=strike_price&order=desc&limit=30",
        "?sort=expiration_date&limit=100",
    ],
)
@pytest.mark.parametrize("symbol", SYMBOLS[:3])
def test_snapshot(client: httpx.Client, symbol: str, query: str) -> None:
    bodies = check_pages(client, SNAPSHOT, f"/v3/snapshot/options/{symbol}{query}", expect_results=False)
    assert bodies[0]["results"] or "strike_price" in query


@pytest.mark.parametrize(
    "query",
    [
        "?underlying_ticker=AAPL",
        "?underlying_ticker=KO&contract_type=call&limit=100",
        "?underlying_ticker=MSFT&expired=true&expiration_date.gte=2020-01-01&expiration_date.lt=2020-03-01&limit=200",
        "?underlying_ticker=ZZZQ&as_of=2019-05-06&sort=strike_price&order=desc&limit=50",
        "?limit=1000",
    ],
)
def test_contracts(client: httpx.Client, query: str) -> None:
    check_pages(client, CONTRACTS, CONTRACTS + query)


def test_single_contract(client: httpx.Client) -> None:
    ticker = client.get("/v3/reference/options/contracts?underlying_ticker=AAPL&limit=1").json()["results"][0]["ticker"]
    body = client.get(f"/v3/reference/options/contracts/{ticker}").json()
    assert_valid(CONTRACT, body)
    assert body["results"]["ticker"] == ticker
    assert option_chain.parse_ticker(ticker) is not None


@pytest.mark.parametrize("query", ["", "?limit=3", "?ticker=ZZZQ", "?search=aapl", "?ticker.gte=K&order=desc&sort=name&limit=4"])
def test_tickers(client: httpx.Client, query: str) -> None:
    check_pages(client, TICKERS, TICKERS + query)


def test_corrupted_records_violate_the_schema(sim, client: httpx.Client) -> None:
    """The bad-records fault produces records a schema-checking client would reject."""
    sim.faults.bad_records_for_symbols = {"BADX"}
    body = client.get("/v2/aggs/ticker/BADX/range/1/day/2024-01-01/2024-06-30").json()
    assert list(validator(AGGS).iter_errors(body))
