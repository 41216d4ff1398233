"""HTTP client for the Polygon (Massive) REST API: auth, retries, pagination, rate limit.

Built on httpx for the transport and tenacity for retries. The key travels only in the
``Authorization: Bearer`` header; URLs, log entries and error messages never carry it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from enrichment_pipeline.polygon.errors import (
    PolygonAuthError,
    PolygonError,
    PolygonMalformedResponseError,
    PolygonNotFoundError,
    PolygonProtocolError,
    PolygonRequestError,
    PolygonRetriesExhaustedError,
    RetryableResponse,
)
from enrichment_pipeline.polygon.rate_limit import DatabaseTokenBucket

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.massive.com"
SIMULATOR_HEADER = "X-Polygon-Simulator"
RETRYABLE_STATUS = frozenset({408, 413, 425, 429, 499, 500, 502, 503, 504})
# Query parameters that could carry a credential; stripped from every URL we log or follow.
CREDENTIAL_PARAMS = frozenset({"apikey", "api_key", "apiKey".lower()})
MAX_PAGES = 100_000


@dataclass(frozen=True)
class FetchLogEntry:
    """One HTTP attempt, for ``enrichment_fetch_log``."""

    requested_at: dt.datetime
    endpoint: str
    dataset: str | None
    symbol: str | None
    status_code: int | None
    attempt: int
    latency_ms: float
    rows: int | None
    error: str | None


@dataclass
class Page:
    results: list[dict]
    payload: dict
    is_simulated: bool


def _without_credentials(query: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in query if k.lower() not in CREDENTIAL_PARAMS]


def _endpoint_label(path: str, params: Mapping[str, object] | list[tuple[str, str]] | None) -> str:
    items = list(params.items()) if isinstance(params, Mapping) else list(params or [])
    query = urlencode(_without_credentials([(str(k), str(v)) for k, v in items]))
    return f"{path}?{query}" if query else path


def _path_segment(value: str) -> str:
    """``value`` (a symbol, an option ticker) as exactly one URL path segment.

    '/', '?', '#', '%' and spaces are percent-encoded, so a value can never change the endpoint
    or the query of a request; ':' stays as it is (option tickers are ``O:...``).
    """
    if value in ("", ".", ".."):
        raise ValueError(f"{value!r} cannot be a ticker in a URL path")
    return quote(value, safe=":")


def _vendor_message(response: httpx.Response) -> str:
    """The vendor's own words: 403 bodies use ``message``, the others ``error``."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "error") if response.status_code == 403 else ("error", "message"):
            if body.get(key):
                return str(body[key])
    return response.reason_phrase


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = dt.datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            return None
        return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


@dataclass
class PolygonClient:
    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    transport: httpx.BaseTransport | None = None
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0
    max_attempts: int = 5
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    retry_after_cap_seconds: float = 120.0
    rate_limiter: DatabaseTokenBucket | None = None
    on_request: Callable[[FetchLogEntry], None] | None = None
    is_simulated: bool = False
    _http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        split = urlsplit(self.base_url)
        if split.scheme not in ("http", "https") or not split.netloc:
            raise ValueError(
                f"POLYGON_BASE_URL must be an http(s) URL such as {DEFAULT_BASE_URL}, got {split.scheme or '?'}://"
            )
        self._origin = (split.scheme, split.netloc.lower())
        headers = {"User-Agent": "enrichment-pipeline/0.1", "Accept-Encoding": "gzip"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            transport=self.transport,
            timeout=httpx.Timeout(self.timeout_seconds, connect=self.connect_timeout_seconds),
            follow_redirects=False,  # a redirect could carry the Authorization header elsewhere
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "PolygonClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """Remove the key from text that may echo it (vendor messages, exception strings)."""
        if self.api_key and len(self.api_key) >= 4:
            text = text.replace(self.api_key, "***")
        return text

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableResponse) and error.retry_after is not None:
            return min(error.retry_after, self.retry_after_cap_seconds)
        return wait_exponential_jitter(initial=self.backoff_initial_seconds, max=self.backoff_max_seconds)(state)

    def _attempt(self, path: str, query: list[tuple[str, str]], label: str, dataset: str | None, symbol: str | None, attempt: int) -> Page:
        if self.rate_limiter is not None:
            self.rate_limiter.acquire()
        started = time.perf_counter()
        requested_at = dt.datetime.now(dt.timezone.utc)
        status_code: int | None = None
        rows: int | None = None
        error: str | None = None
        try:
            try:
                response = self._http.get(path, params=query)
            except httpx.TimeoutException as exc:
                raise RetryableResponse(f"timed out ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                raise RetryableResponse(f"connection failed ({type(exc).__name__})") from None
            status_code = response.status_code
            if 300 <= status_code < 400:
                # Redirects are never followed (they could carry the Authorization header to
                # another host); say so instead of failing later on an empty body.
                location = urlsplit(response.headers.get("Location", ""))
                target = f"{location.scheme}://{location.netloc}" if location.netloc else "a path on the same host"
                raise PolygonProtocolError(
                    f"{label}: HTTP {status_code} redirect to {target} not followed; "
                    "point POLYGON_BASE_URL at the API host itself",
                    endpoint=label,
                    status_code=status_code,
                )
            if status_code in RETRYABLE_STATUS:
                raise RetryableResponse(
                    f"HTTP {status_code}: {self.scrub(_vendor_message(response))}",
                    status_code=status_code,
                    retry_after=_retry_after_seconds(response),
                )
            if status_code >= 400:
                message = f"{label}: HTTP {status_code}: {self.scrub(_vendor_message(response))}"
                error_type = {401: PolygonAuthError, 403: PolygonAuthError, 404: PolygonNotFoundError}.get(
                    status_code, PolygonRequestError
                )
                if status_code == 401:
                    message += " (check POLYGON_API_KEY / MASSIVE_API_KEY)"
                raise error_type(message, endpoint=label, status_code=status_code)
            try:
                payload = response.json()
            except ValueError:
                raise RetryableResponse("response body is not valid JSON", status_code=status_code) from None
            if not isinstance(payload, dict):
                raise RetryableResponse("response body is not a JSON object", status_code=status_code)
            results = payload.get("results") or []
            if isinstance(results, dict):  # single-object endpoints
                results = [results]
            rows = len(results)
            simulated = response.headers.get(SIMULATOR_HEADER) == "1"
            self.is_simulated = self.is_simulated or simulated
            return Page(results=results, payload=payload, is_simulated=simulated)
        except (RetryableResponse, PolygonError) as exc:
            error = self.scrub(str(exc))
            raise
        finally:
            latency_ms = (time.perf_counter() - started) * 1000.0
            entry = FetchLogEntry(requested_at, label, dataset, symbol, status_code, attempt, latency_ms, rows, error)
            if error:
                logger.warning("Polygon %s attempt %d failed: %s", label, attempt, error)
            if self.on_request is not None:
                self.on_request(entry)

    def _get_page(self, path: str, query: list[tuple[str, str]], *, dataset: str | None, symbol: str | None) -> Page:
        query = _without_credentials(query)
        label = _endpoint_label(path, query)
        retrying = Retrying(
            retry=retry_if_exception_type(RetryableResponse),
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(path, query, label, dataset, symbol, attempt.retry_state.attempt_number)
        except RetryableResponse as exc:
            error_type = PolygonMalformedResponseError if "JSON" in str(exc) else PolygonRetriesExhaustedError
            raise error_type(
                f"{label}: gave up after {self.max_attempts} attempts; last: {self.scrub(str(exc))}",
                endpoint=label,
                status_code=exc.status_code,
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _next_request(self, next_url: str, label: str) -> tuple[str, list[tuple[str, str]]]:
        split = urlsplit(next_url)
        if (split.scheme, split.netloc.lower()) != self._origin:
            raise PolygonProtocolError(
                f"{label}: refusing to follow next_url to {split.scheme}://{split.netloc}, "
                "which is not the configured POLYGON_BASE_URL host",
                endpoint=label,
            )
        return split.path, _without_credentials(parse_qsl(split.query, keep_blank_values=True))

    def paginate(self, path: str, params: Mapping[str, object] | None = None, *, dataset: str | None = None, symbol: str | None = None) -> Iterator[Page]:
        """Yield every page, following ``next_url`` on the configured host only."""
        query = [(k, str(v)) for k, v in (params or {}).items() if v is not None]
        first_label = _endpoint_label(path, query)
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self._get_page(path, query, dataset=dataset, symbol=symbol)
            yield page
            next_url = page.payload.get("next_url")
            if not next_url:
                return
            path, query = self._next_request(next_url, first_label)
            cursor = _endpoint_label(path, sorted(query))
            if cursor in seen:
                raise PolygonProtocolError(
                    f"{first_label}: the API returned a next_url it had already sent (pagination loop); stopped",
                    endpoint=first_label,
                )
            seen.add(cursor)
        raise PolygonProtocolError(f"{first_label}: more than {MAX_PAGES} pages; stopped", endpoint=first_label)

    def records(self, path: str, params: Mapping[str, object] | None = None, *, dataset: str | None = None, symbol: str | None = None) -> Iterator[dict]:
        for page in self.paginate(path, params, dataset=dataset, symbol=symbol):
            yield from page.results

    # -- endpoints ----------------------------------------------------------------------

    def daily_bars(self, symbol: str, start: dt.date, end: dt.date, *, adjusted: bool = False, dataset: str = "market_data") -> Iterator[dict]:
        """Raw (unadjusted by default) daily bars of ``symbol`` (a stock or an option contract)."""
        return self.records(
            f"/v2/aggs/ticker/{_path_segment(symbol)}/range/1/day/{start.isoformat()}/{end.isoformat()}",
            {"adjusted": str(adjusted).lower(), "sort": "asc", "limit": 50000},
            dataset=dataset,
            symbol=symbol,
        )

    def dividends(self, symbol: str, start: dt.date, end: dt.date) -> Iterator[dict]:
        return self.records(
            "/v3/reference/dividends",
            {"ticker": symbol, "ex_dividend_date.gte": start.isoformat(), "ex_dividend_date.lte": end.isoformat(),
             "order": "asc", "sort": "ex_dividend_date", "limit": 1000},
            dataset="dividends",
            symbol=symbol,
        )

    def splits(self, symbol: str, start: dt.date, end: dt.date) -> Iterator[dict]:
        return self.records(
            "/v3/reference/splits",
            {"ticker": symbol, "execution_date.gte": start.isoformat(), "execution_date.lte": end.isoformat(),
             "order": "asc", "sort": "execution_date", "limit": 1000},
            dataset="stock_splits",
            symbol=symbol,
        )

    def financials(self, symbol: str, start: dt.date, end: dt.date, *, timeframe: str = "quarterly") -> Iterator[dict]:
        return self.records(
            "/vX/reference/financials",
            {"ticker": symbol, "filing_date.gte": start.isoformat(), "filing_date.lte": end.isoformat(),
             "timeframe": timeframe, "order": "asc", "sort": "filing_date", "limit": 100},
            dataset="earnings",
            symbol=symbol,
        )

    def news(self, symbol: str, published_from: dt.datetime, published_to: dt.datetime) -> Iterator[dict]:
        """Articles published in [published_from, published_to) (UTC)."""
        return self.records(
            "/v2/reference/news",
            {"ticker": symbol,
             "published_utc.gte": published_from.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "published_utc.lt": published_to.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "order": "asc", "sort": "published_utc", "limit": 1000},
            dataset="news",
            symbol=symbol,
        )

    def option_chain_snapshot(self, underlying: str, **filters: object) -> Iterator[dict]:
        return self.records(
            f"/v3/snapshot/options/{_path_segment(underlying)}", {"limit": 250, **filters}, dataset="options_iv", symbol=underlying
        )

    def option_contracts(self, underlying: str, as_of: dt.date, **filters: object) -> Iterator[dict]:
        return self.records(
            "/v3/reference/options/contracts",
            {"underlying_ticker": underlying, "as_of": as_of.isoformat(), "limit": 1000, "sort": "expiration_date", "order": "asc", **filters},
            dataset="options_iv_history",
            symbol=underlying,
        )

    def tickers(self, **filters: object) -> Iterator[dict]:
        return self.records("/v3/reference/tickers", {"limit": 1000, **filters}, dataset="tickers")
