"""``PolygonSimulator``: a pure request handler that answers like the Polygon / Massive REST API.

Same paths, query parameters, pagination and JSON shapes as the vendor (see
``../shared/polygon_fixtures``), deterministic data from :mod:`.market` and friends, fault
injection from :mod:`.faults`. Use it in-process as an httpx transport::

    sim = PolygonSimulator()                       # or PolygonSimulator(api_key="secret")
    client = httpx.Client(transport=sim.transport(), base_url="http://polygon-simulator")

or over loopback with :mod:`.server`. Every response carries ``X-Polygon-Simulator: 1``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl

import httpx
import numpy as np

from enrichment_pipeline.simulator import financials as financials_data
from enrichment_pipeline.simulator import market
from enrichment_pipeline.simulator import news as news_data
from enrichment_pipeline.simulator import option_chain
from enrichment_pipeline.simulator.faults import NOT_ENTITLED_MESSAGE, RATE_LIMIT_MESSAGE, FaultPlan, Faults
from enrichment_pipeline.simulator.query import (
    BadRequest,
    Params,
    as_iso_date,
    as_text,
    match,
    mask,
    parse_date,
    parse_number,
    parse_timestamp,
)
from enrichment_pipeline.simulator.stats import Stats

__all__ = ["PolygonSimulator", "SimulatedDisconnect", "SIMULATOR_HEADER", "DEFAULT_UNIVERSE"]

SIMULATOR_HEADER = "X-Polygon-Simulator"
DEFAULT_UNIVERSE = (
    "AAPL", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA", "JPM", "JNJ", "V",
    "PG", "XOM", "KO", "PEP", "DIS", "NFLX", "INTC", "CSCO", "ORCL", "WMT",
)
_TIMESPANS = ("second", "minute", "hour", "day", "week", "month", "quarter", "year")
_TICKER_TYPES = (
    "CS", "ADRC", "ADRP", "ADRR", "UNIT", "RIGHT", "PFD", "FUND", "SP", "WARRANT", "INDEX", "ETF", "ETN",
    "OS", "GDR", "OTHER", "NYRS", "AGEN", "EQLK", "BOND", "ADRW", "BASKET", "LT",
)
_TICKER_SORTS = (
    "ticker", "name", "market", "locale", "primary_exchange", "type", "currency_symbol", "currency_name",
    "base_currency_symbol", "base_currency_name", "cik", "composite_figi", "share_class_figi",
    "last_updated_utc", "delisted_utc",
)
_FAILURE_MESSAGES = {
    500: "Internal server error (simulated).",
    502: "Bad gateway (simulated).",
    503: "Service temporarily unavailable (simulated).",
    504: "Gateway timeout (simulated).",
}


class SimulatedDisconnect(httpx.RemoteProtocolError):
    """The simulated server closed the connection without sending a response."""


class _NotFound(Exception):
    pass


@dataclass
class _Ctx:
    request: httpx.Request
    path: str
    params: Params
    request_id: str
    base: str  # scheme://host[:port] of the request
    as_of: dt.date  # the session this listing is computed for (pinned across pages)


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _dumps(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":"), default=_json_default).encode()


class PolygonSimulator:
    """A Polygon-compatible API over deterministic simulated data.

    ``api_key``: when set, requests must authenticate with ``Authorization: Bearer <key>`` (or
    the ``apiKey`` query parameter) or get 401; ``None`` accepts anything. The key is never
    echoed, logged, counted or put in a ``next_url``.
    ``universe``: the symbols listed when a request names no ticker (``/v3/reference/tickers``,
    market-wide dividends, splits, news...). Any ticker can still be asked for by name.
    ``as_of``: freeze the simulated market at this session (default: the latest closed session,
    moving with the clock).
    ``faults``: a :class:`Faults` to share; by default a fresh one (``sim.faults``).
    ``control_endpoints``: serve ``/_sim/faults``, ``/_sim/stats``, ``/_sim/reset``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        universe: Iterable[str] | None = None,
        as_of: dt.date | None = None,
        faults: Faults | None = None,
        control_endpoints: bool = True,
    ):
        self._api_key = api_key or None
        self.universe: tuple[str, ...] = tuple(sorted(set(universe or DEFAULT_UNIVERSE)))
        self.as_of = as_of
        self.faults = faults if faults is not None else Faults()
        self.stats = Stats()
        self.control_endpoints = control_endpoints
        self._routes: list[tuple[re.Pattern[str], Callable[..., tuple[int, dict]]]] = [
            (re.compile(r"^/v2/aggs/ticker/([^/]+)/range/([^/]+)/([^/]+)/([^/]+)/([^/]+)/?$"), self._aggs),
            (re.compile(r"^/v2/aggs/ticker/([^/]+)/prev/?$"), self._previous_close),
            (re.compile(r"^/v3/reference/dividends/?$"), self._dividends),
            (re.compile(r"^/v3/reference/splits/?$"), self._splits),
            (re.compile(r"^/vX/reference/financials/?$"), self._financials),
            (re.compile(r"^/v2/reference/news/?$"), self._news),
            (re.compile(r"^/v3/snapshot/options/([^/]+)/?$"), self._snapshot),
            (re.compile(r"^/v3/snapshot/options/([^/]+)/([^/]+)/?$"), self._snapshot_contract),
            (re.compile(r"^/v3/reference/options/contracts/?$"), self._contracts),
            (re.compile(r"^/v3/reference/options/contracts/([^/]+)/?$"), self._contract),
            (re.compile(r"^/v3/reference/tickers/?$"), self._tickers),
            (re.compile(r"^/v3/reference/tickers/([^/]+)/?$"), self._ticker_details),
        ]

    def __repr__(self) -> str:
        return f"PolygonSimulator(auth={'on' if self._api_key else 'off'}, universe={len(self.universe)} symbols)"

    # ---- public surface ---------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        """An httpx transport serving this simulator in-process."""
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request in-process. Connection faults raise httpx transport errors
        (``RemoteProtocolError``; ``ReadTimeout`` when a delay exceeds the request's read timeout)."""
        return self._serve(request, in_process=True)

    def handle_http(self, request: httpx.Request) -> httpx.Response:
        """Answer one request for the loopback server: delays are slept in full and a
        connection fault raises :class:`SimulatedDisconnect` for the server to drop the socket."""
        return self._serve(request, in_process=False)

    def reset_stats(self) -> None:
        self.stats.reset()

    # ---- plumbing ---------------------------------------------------------------------------

    def _serve(self, request: httpx.Request, in_process: bool) -> httpx.Response:
        path = request.url.path
        query = parse_qsl(request.url.query.decode("utf-8", "replace"), keep_blank_values=True)
        if path.startswith("/_sim/") and self.control_endpoints:
            return self._control(request, path)
        self.stats.record_request(request.method, path, query)
        status: int | None = None
        try:
            response = self._api(request, path, query, in_process)
            status = response.status_code
            return response
        finally:
            self.stats.record_status(status)

    def _respond(self, status: int, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        all_headers = {"Content-Type": "application/json", SIMULATOR_HEADER: "1"}
        all_headers.update(headers or {})
        return httpx.Response(status, headers=all_headers, content=content)

    def _error(self, status: int, message: str, request_id: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self._respond(status, _dumps({"status": "ERROR", "request_id": request_id, "error": message}), headers)

    def _wait(self, request: httpx.Request, seconds: float, in_process: bool) -> None:
        if in_process:
            timeout = (request.extensions.get("timeout") or {}).get("read")
            if timeout is not None and seconds > timeout:
                self.faults.sleep(timeout)
                raise httpx.ReadTimeout("simulated response slower than the read timeout", request=request)
        self.faults.sleep(seconds)

    def _authenticate(self, request: httpx.Request, query: list[tuple[str, str]]) -> str | None:
        """None when the request may proceed, else the vendor's 401 message."""
        if self._api_key is None:
            return None
        supplied = None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            supplied = token.strip()
        if supplied is None:
            supplied = next((v for k, v in query if k == "apiKey" and v), None)
        if supplied is None:
            return "API Key was not provided"
        if not hmac.compare_digest(supplied.encode(), self._api_key.encode()):
            return "Unknown API Key"
        return None

    def _api(self, request: httpx.Request, path: str, query: list[tuple[str, str]], in_process: bool) -> httpx.Response:
        plan: FaultPlan = self.faults.take(path)
        if plan.reset_connection:
            raise SimulatedDisconnect("Server disconnected without sending a response.", request=request)
        delay = self.faults.delay_seconds + plan.delay
        if delay > 0:
            self._wait(request, delay, in_process)
        request_id = uuid.uuid4().hex
        auth_error = self._authenticate(request, query)
        if auth_error is not None:
            return self._error(401, auth_error, request_id)
        retry_after = self.faults.admit()
        if retry_after is not None:
            return self._error(429, RATE_LIMIT_MESSAGE, request_id, {"Retry-After": str(retry_after)})
        if plan.kind == "fail":
            headers = {} if plan.retry_after is None else {"Retry-After": f"{plan.retry_after:g}"}
            if plan.status == 429:
                return self._error(429, RATE_LIMIT_MESSAGE, request_id, headers)
            if plan.status == 403:  # the vendor's "not entitled" answer uses `message`, not `error`
                body = {"status": "NOT_AUTHORIZED", "request_id": request_id, "message": NOT_ENTITLED_MESSAGE}
                return self._respond(403, _dumps(body), headers)
            if plan.status == 502:  # gateways answer in HTML, not in the API's JSON
                html = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
                return self._respond(502, html, {"Content-Type": "text/html", **headers})
            return self._error(int(plan.status or 500), _FAILURE_MESSAGES.get(int(plan.status or 500), "Error"), request_id, headers)
        if request.method != "GET":
            return self._error(405, f"Method {request.method} not allowed", request_id)

        try:
            status, body = self._route(request, path, query, request_id)
        except BadRequest as exc:
            return self._error(400, str(exc), request_id)
        except _NotFound as exc:
            body = {"status": "NOT_FOUND", "request_id": request_id, "message": str(exc) or "Not found."}
            return self._respond(404, _dumps(body))
        content = _dumps(body)
        if plan.malformed_json:
            content = content.replace(b":", b"=", 1)
        elif plan.truncated_page:
            content = content[: max(1, len(content) // 2)]
        return self._respond(status, content)

    def _route(self, request: httpx.Request, path: str, query: list[tuple[str, str]], request_id: str) -> tuple[int, dict]:
        for pattern, handler in self._routes:
            m = pattern.match(path)
            if m:
                params = Params(query)
                pinned = params.get("_as_of")
                as_of = parse_date(pinned, "cursor") if pinned else market.latest_session(self.as_of)
                base = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
                ctx = _Ctx(request, path, params, request_id, base, as_of)
                return handler(ctx, *m.groups())
        raise _NotFound(f"The requested path {path} was not found.")

    def _page(self, ctx: _Ctx, total: int, limit: int, extra: dict[str, str] | None = None) -> tuple[int, int, str | None]:
        """(start, stop, next_url) of the page this request asks for."""
        start = min(ctx.params.offset, total)
        stop = min(start + limit, total)
        pin = {"_as_of": ctx.as_of.isoformat(), **(extra or {})}
        if self.faults.pagination_loop:
            cursor = ctx.params.cursor or ctx.params.cursor_for(start + limit, pin)
        elif stop < total:
            cursor = ctx.params.cursor_for(stop, pin)
        else:
            return start, stop, None
        base = self.faults.foreign_base() or ctx.base
        return start, stop, f"{base}{ctx.path}?cursor={cursor}"

    def _envelope(self, ctx: _Ctx, results: list[dict], next_url: str | None, count: bool = False) -> dict:
        body: dict = {"results": results, "status": "OK", "request_id": ctx.request_id}
        if count:
            body["count"] = len(results)
        if next_url:
            body["next_url"] = next_url
        return body

    def _corrupt(self, endpoint: str, rows: list[dict], symbol_of: Callable[[dict], str], key_of: Callable[[dict], object]) -> list[dict]:
        faults = self.faults
        if not faults.bad_record_rate and not faults.bad_records_for_symbols:
            return rows
        return [faults.corrupt(endpoint, symbol_of(r), key_of(r), r) for r in rows]

    def _symbols(self, ctx: _Ctx, name: str) -> list[str]:
        """The symbols a listing covers: the one named by ``name``, else the universe, narrowed
        by ``name.gt/.gte/.lt/.lte``."""
        conditions = ctx.params.ranges(name, as_text)
        exact = [v for op, v in conditions if op == "eq"]
        candidates = exact[:1] if exact else list(self.universe)
        ranges = [(op, v) for op, v in conditions if op != "eq"]
        return [s for s in candidates if market.is_stock_symbol(s) and match(s, ranges)]

    # ---- control endpoints ------------------------------------------------------------------

    def _control(self, request: httpx.Request, path: str) -> httpx.Response:
        name = path.rstrip("/")
        if name == "/_sim/stats" and request.method == "GET":
            return self._respond(200, _dumps(self.stats.snapshot()))
        if name == "/_sim/health":
            return self._respond(200, _dumps({"status": "OK"}))
        if name == "/_sim/faults" and request.method == "GET":
            return self._respond(200, _dumps(self.faults.as_dict()))
        if name == "/_sim/faults" and request.method == "POST":
            try:
                spec = json.loads(request.content or b"{}")
                self.faults.configure(spec)
            except (ValueError, TypeError) as exc:
                return self._respond(400, _dumps({"status": "ERROR", "error": f"bad fault specification: {exc}"}))
            return self._respond(200, _dumps(self.faults.as_dict()))
        if name == "/_sim/reset" and request.method == "POST":
            self.faults.clear()
            self.stats.reset()
            return self._respond(200, _dumps({"status": "OK"}))
        return self._respond(404, _dumps({"status": "NOT_FOUND", "message": f"no control endpoint {request.method} {path}"}))

    # ---- aggregates -------------------------------------------------------------------------

    def _session_bound(self, text: str, name: str, end: bool) -> int:
        """Session index of a ``from``/``to`` path segment (a date or Unix milliseconds)."""
        sess = market.sessions()
        if text.isdigit() and len(text) > 8:
            ms = int(text)
            side = "right" if end else "left"
            return int(np.searchsorted(sess.t_ms, ms, side=side)) - (1 if end else 0)
        day = parse_date(text, name)
        return sess.index_on_or_before(day) if end else sess.index_on_or_after(day)

    def _aggs(self, ctx: _Ctx, ticker: str, multiplier: str, timespan: str, start: str, end: str) -> tuple[int, dict]:
        p = ctx.params
        try:
            mult = int(multiplier)
        except ValueError:
            raise BadRequest(f"multiplier must be a positive integer, got '{multiplier}'") from None
        if mult < 1:
            raise BadRequest("multiplier must be a positive integer")
        if timespan not in _TIMESPANS:
            raise BadRequest(f"timespan must be one of {', '.join(_TIMESPANS)}, got '{timespan}'")
        if timespan in ("second", "minute", "hour"):
            raise BadRequest("the simulator serves day, week, month, quarter and year aggregates only")
        adjusted = p.boolean("adjusted", True)
        sort = p.choice("sort", ("asc", "desc"), "asc")
        limit = p.limit(5000, 50000, clamp=True)
        lo = self._session_bound(start, "from", end=False)
        hi = self._session_bound(end, "to", end=True)
        bars = self._bars(ticker, lo, hi, bool(adjusted), ctx.as_of)
        if bars is not None and (timespan != "day" or mult != 1):
            bars = _aggregate(bars, timespan, mult, start)
        total = 0 if bars is None else len(bars["t"])
        s, e, next_url = self._page(ctx, total, limit)
        body: dict = {"ticker": ticker, "queryCount": e - s, "resultsCount": e - s, "adjusted": bool(adjusted)}
        if e > s:
            order = np.arange(total) if sort == "asc" else np.arange(total)[::-1]
            sel = order[s:e]
            cols = [bars[k][sel].tolist() for k in ("v", "vw", "o", "c", "h", "l", "t", "n")]
            rows = [
                {"v": v, "vw": vw, "o": o, "c": c, "h": h, "l": low, "t": t, "n": int(n)}
                for v, vw, o, c, h, low, t, n in zip(*cols)
            ]
            symbol = ticker
            body["results"] = self._corrupt("aggs", rows, lambda r: symbol, lambda r: r.get("t"))
        body["status"] = "OK"
        body["request_id"] = ctx.request_id
        if e > s:
            body["count"] = e - s
        if next_url:
            body["next_url"] = next_url
        return 200, body

    def _bars(self, ticker: str, lo: int, hi: int, adjusted: bool, as_of: dt.date) -> dict[str, np.ndarray] | None:
        if lo > hi or hi < 0:
            return None
        if ticker.startswith("O:"):
            key = option_chain.parse_ticker(ticker)
            if key is None or not market.is_stock_symbol(key.root):
                return None
            return option_chain.option_bars(key.root, key, lo, hi, as_of)
        if not market.is_stock_symbol(ticker):
            return None
        hist = market.history(ticker, as_of)
        return hist.bars(lo, hi + 1, adjusted)

    def _previous_close(self, ctx: _Ctx, ticker: str) -> tuple[int, dict]:
        adjusted = ctx.params.boolean("adjusted", True)
        body: dict = {"ticker": ticker, "queryCount": 0, "resultsCount": 0, "adjusted": bool(adjusted)}
        if market.is_stock_symbol(ticker):
            hist = market.history(ticker, ctx.as_of)
            bars = hist.bars(hist.n - 1, hist.n, bool(adjusted))
            row = {k: bars[k].tolist()[0] for k in ("v", "vw", "o", "c", "h", "l", "t", "n")}
            body.update(queryCount=1, resultsCount=1, results=[{"T": ticker, **row}])
        body.update(status="OK", request_id=ctx.request_id)
        return 200, body

    # ---- corporate actions ------------------------------------------------------------------

    def _dividends(self, ctx: _Ctx) -> tuple[int, dict]:
        p = ctx.params
        symbols = self._symbols(ctx, "ticker")
        conditions = {
            name: p.ranges(name, as_iso_date)
            for name in ("ex_dividend_date", "record_date", "declaration_date", "pay_date")
        }
        conditions["cash_amount"] = p.ranges("cash_amount", parse_number)
        frequency = p.choice("frequency", ("0", "1", "2", "4", "12", "24", "52"), None)
        if frequency is not None:
            conditions["frequency"] = [("eq", int(frequency))]
        kind = p.choice("dividend_type", ("CD", "SC", "LT", "ST"), None)
        if kind is not None:
            conditions["dividend_type"] = [("eq", kind)]
        sort = p.choice(
            "sort", ("ex_dividend_date", "pay_date", "declaration_date", "record_date", "cash_amount", "ticker"),
            "ex_dividend_date",
        )
        order = p.order("desc")
        limit = p.limit(10, 1000)
        rows = [
            d for s in symbols for d in market.history(s, ctx.as_of).dividends
            if all(match(d.get(f), c) for f, c in conditions.items() if c)
        ]
        rows.sort(key=lambda r: (r[sort], r["ticker"], r["ex_dividend_date"], r["id"]), reverse=order == "desc")
        s, e, next_url = self._page(ctx, len(rows), limit)
        page = self._corrupt("dividends", rows[s:e], lambda r: r["ticker"], lambda r: r["id"])
        return 200, self._envelope(ctx, page, next_url)

    def _splits(self, ctx: _Ctx) -> tuple[int, dict]:
        p = ctx.params
        symbols = self._symbols(ctx, "ticker")
        dates = p.ranges("execution_date", as_iso_date)
        reverse = p.boolean("reverse_split", None)
        sort = p.choice("sort", ("execution_date", "ticker"), "execution_date")
        order = p.order("desc")
        limit = p.limit(10, 1000)
        rows = [
            r for s in symbols for r in market.history(s, ctx.as_of).split_records
            if match(r["execution_date"], dates) and (reverse is None or (r["split_from"] > r["split_to"]) == reverse)
        ]
        rows.sort(key=lambda r: (r[sort], r["ticker"], r["execution_date"]), reverse=order == "desc")
        s, e, next_url = self._page(ctx, len(rows), limit)
        page = self._corrupt("splits", rows[s:e], lambda r: r["ticker"], lambda r: r["id"])
        return 200, self._envelope(ctx, page, next_url)

    # ---- financials -------------------------------------------------------------------------

    def _financials(self, ctx: _Ctx) -> tuple[int, dict]:
        p = ctx.params
        ticker = p.get("ticker")
        symbols = [ticker] if ticker else list(self.universe)
        symbols = [s for s in symbols if market.is_stock_symbol(s)]
        filing = p.ranges("filing_date", as_iso_date)
        period = p.ranges("period_of_report_date", as_iso_date)
        timeframe = p.choice("timeframe", ("annual", "quarterly", "ttm"), None)
        p.boolean("include_sources", False)
        cik, company, sic = p.get("cik"), p.get("company_name"), p.get("sic")
        search = (p.get("company_name.search") or "").lower()
        sort = p.choice("sort", ("filing_date", "period_of_report_date"), "period_of_report_date")
        order = p.order("desc")
        limit = p.limit(10, 100)
        rows = []
        for symbol in symbols:
            for r in financials_data.financials(symbol, ctx.as_of, include_ttm=timeframe == "ttm"):
                if timeframe is not None and r["timeframe"] != timeframe:
                    continue
                if timeframe is None and r["timeframe"] == "ttm":
                    continue
                if not (match(r["filing_date"], filing) and match(r["end_date"], period)):
                    continue
                if (cik and r["cik"] != cik) or (company and r["company_name"] != company) or (sic and r["sic"] != sic):
                    continue
                if search and search not in r["company_name"].lower():
                    continue
                rows.append(r)
        field = "filing_date" if sort == "filing_date" else "end_date"
        rows.sort(key=lambda r: (r[field], r["tickers"][0], r["end_date"], r["timeframe"]), reverse=order == "desc")
        s, e, next_url = self._page(ctx, len(rows), limit)
        page = self._corrupt(
            "financials", rows[s:e], lambda r: r["tickers"][0], lambda r: (r["fiscal_year"], r["fiscal_period"])
        )
        return 200, self._envelope(ctx, page, next_url, count=True)

    # ---- news -------------------------------------------------------------------------------

    def _news(self, ctx: _Ctx) -> tuple[int, dict]:
        p = ctx.params
        symbols = self._symbols(ctx, "ticker")
        published = p.ranges("published_utc", parse_timestamp)
        p.choice("sort", ("published_utc",), "published_utc")
        order = p.order("desc")
        limit = p.limit(10, 1000)
        pinned_until = p.get("_until")
        until = int(pinned_until) if pinned_until and pinned_until.isdigit() else news_data.news_until(self.as_of)
        feeds, stamps, owners, positions = [], [], [], []
        for k, symbol in enumerate(symbols):
            feed = news_data.feed(symbol, until, ctx.as_of)
            keep = np.nonzero(mask(feed.published, published))[0]
            feeds.append(feed)
            stamps.append(feed.published[keep])
            owners.append(np.full(len(keep), k))
            positions.append(keep)
        if feeds:
            stamp, owner, position = np.concatenate(stamps), np.concatenate(owners), np.concatenate(positions)
        else:
            stamp = owner = position = np.zeros(0, dtype=np.int64)
        ordering = np.lexsort((position, owner, stamp))
        if order == "desc":
            ordering = ordering[::-1]
        s, e, next_url = self._page(ctx, len(ordering), limit, {"_until": str(until)})
        rows = [news_data.article(feeds[int(owner[i])], int(position[i])) for i in ordering[s:e]]
        page = self._corrupt("news", rows, lambda r: r["tickers"][0], lambda r: r["id"])
        return 200, self._envelope(ctx, page, next_url, count=True)

    # ---- options ----------------------------------------------------------------------------

    def _snapshot(self, ctx: _Ctx, underlying: str) -> tuple[int, dict]:
        p = ctx.params
        strike = p.ranges("strike_price", parse_number)
        expiration = p.ranges("expiration_date", as_iso_date)
        contract_type = p.choice("contract_type", ("call", "put"), None)
        sort = p.choice("sort", ("ticker", "expiration_date", "strike_price"), "ticker")
        order = p.order("asc")
        limit = p.limit(10, 250)
        if not market.is_stock_symbol(underlying):
            return 200, self._envelope(ctx, [], None)
        snap = option_chain.snapshot(underlying, ctx.as_of)
        c = snap.contracts
        keep = mask(c.strike_milli / 1000.0, strike) & mask(c.expiration_ordinal, _ordinal_conditions(expiration))
        if contract_type is not None:
            keep &= c.is_call == (contract_type == "call")
        idx = np.nonzero(keep)[0]  # already in ticker order
        if sort == "expiration_date":
            idx = idx[np.argsort(c.expiration_ordinal[idx], kind="stable")]
        elif sort == "strike_price":
            idx = idx[np.argsort(c.strike_milli[idx], kind="stable")]
        if order == "desc":
            idx = idx[::-1]
        s, e, next_url = self._page(ctx, len(idx), limit)
        rows = [option_chain.snapshot_record(snap, int(i)) for i in idx[s:e]]
        page = self._corrupt("snapshot", rows, lambda r: underlying, lambda r: r["details"]["ticker"])
        return 200, self._envelope(ctx, page, next_url)

    def _snapshot_contract(self, ctx: _Ctx, underlying: str, contract: str) -> tuple[int, dict]:
        if market.is_stock_symbol(underlying):
            snap = option_chain.snapshot(underlying, ctx.as_of)
            if contract in snap.tickers:
                record = option_chain.snapshot_record(snap, snap.tickers.index(contract))
                return 200, {"results": record, "status": "OK", "request_id": ctx.request_id}
        raise _NotFound(f"Contract {contract} not found for {underlying}.")

    def _contracts(self, ctx: _Ctx) -> tuple[int, dict]:
        p = ctx.params
        symbols = self._symbols(ctx, "underlying_ticker")
        contract_type = p.choice("contract_type", ("call", "put"), None)
        expiration = _ordinal_conditions(p.ranges("expiration_date", as_iso_date))
        strike = p.ranges("strike_price", parse_number)
        ticker = p.get("ticker")
        as_of_text = p.get("as_of")
        as_of = min(parse_date(as_of_text, "as_of"), ctx.as_of) if as_of_text else ctx.as_of
        expired = bool(p.boolean("expired", False))
        sort = p.choice("sort", ("ticker", "underlying_ticker", "expiration_date", "strike_price"), "ticker")
        order = p.order("asc")
        limit = p.limit(10, 1000)
        sess = market.sessions()
        day = sess.index_on_or_before(as_of)
        as_of_ordinal = (as_of - dt.date(1970, 1, 1)).days
        lo_ord, hi_ord = _ordinal_window(expiration)

        parts: list[tuple[option_chain.Contracts, np.ndarray]] = []
        if day >= 0:
            for symbol in sorted(symbols, key=option_chain.option_root):
                if expired:
                    contracts = option_chain.contracts_between(symbol, lo_ord, min(hi_ord, as_of_ordinal - 1), ctx.as_of)
                else:
                    contracts = option_chain.chain(symbol, day, ctx.as_of)
                keep = mask(contracts.expiration_ordinal, expiration) & mask(contracts.strike_milli / 1000.0, strike)
                if contract_type is not None:
                    keep &= contracts.is_call == (contract_type == "call")
                idx = np.nonzero(keep)[0]
                if ticker:
                    idx = np.array([i for i in idx if contracts.ticker(int(i)) == ticker], dtype=np.int64)
                parts.append((contracts, idx))
        owner = np.concatenate([np.full(len(idx), k) for k, (_, idx) in enumerate(parts)]) if parts else np.zeros(0, int)
        local = np.concatenate([idx for _, idx in parts]) if parts else np.zeros(0, int)
        if sort in ("expiration_date", "strike_price") and len(local):
            key = np.concatenate(
                [(c.expiration_ordinal if sort == "expiration_date" else c.strike_milli)[idx] for c, idx in parts]
            )
            ordering = np.argsort(key, kind="stable")  # ties keep ticker order
        else:
            ordering = np.arange(len(local))  # symbols by root, then expiry/type/strike = ticker order
        if order == "desc":
            ordering = ordering[::-1]
        s, e, next_url = self._page(ctx, len(ordering), limit)
        rows = [option_chain.contract_record(parts[int(owner[i])][0], int(local[i])) for i in ordering[s:e]]
        page = self._corrupt("contracts", rows, lambda r: r["underlying_ticker"], lambda r: r["ticker"])
        return 200, self._envelope(ctx, page, next_url)

    def _contract(self, ctx: _Ctx, options_ticker: str) -> tuple[int, dict]:
        key = option_chain.parse_ticker(options_ticker)
        if key is None and not options_ticker.startswith("O:"):
            key = option_chain.parse_ticker("O:" + options_ticker) or (
                option_chain.parse_ticker("O:" + options_ticker[1:]) if options_ticker.startswith("O") else None
            )
        if key is not None and market.is_stock_symbol(key.root):
            as_of_text = ctx.params.get("as_of")
            as_of = min(parse_date(as_of_text, "as_of"), ctx.as_of) if as_of_text else ctx.as_of
            contracts = option_chain.single_contract(key.root, key, as_of)
            if contracts is not None:
                record = option_chain.contract_record(contracts, 0)
                return 200, {"results": record, "status": "OK", "request_id": ctx.request_id}
        raise _NotFound(f"Options contract {options_ticker} not found.")

    # ---- tickers ----------------------------------------------------------------------------

    def _tickers(self, ctx: _Ctx) -> tuple[int, dict]:
        p = ctx.params
        symbols = self._symbols(ctx, "ticker")
        kind = p.choice("type", _TICKER_TYPES, None)
        market_name = p.choice("market", ("stocks", "crypto", "fx", "otc", "indices"), None)
        exchange, cik = p.get("exchange"), p.get("cik")
        search = (p.get("search") or "").lower()
        active = p.boolean("active", True)
        if p.get("date"):
            parse_date(p.get("date") or "", "date")
        sort = p.choice("sort", _TICKER_SORTS, "ticker")
        order = p.order("asc")
        limit = p.limit(100, 1000)
        rows = []
        if (kind in (None, "CS")) and (market_name in (None, "stocks")) and active:
            for symbol in symbols:
                r = market.ticker_reference(symbol, ctx.as_of)
                if (exchange and r["primary_exchange"] != exchange) or (cik and r["cik"] != cik):
                    continue
                if search and search not in r["ticker"].lower() and search not in r["name"].lower():
                    continue
                rows.append(r)
        rows.sort(key=lambda r: (r.get(sort) is None, str(r.get(sort) or ""), r["ticker"]), reverse=order == "desc")
        s, e, next_url = self._page(ctx, len(rows), limit)
        page = self._corrupt("tickers", rows[s:e], lambda r: r["ticker"], lambda r: r["ticker"])
        return 200, self._envelope(ctx, page, next_url, count=True)

    def _ticker_details(self, ctx: _Ctx, ticker: str) -> tuple[int, dict]:
        if not market.is_stock_symbol(ticker):
            raise _NotFound(f"Ticker {ticker} not found.")
        p = market.profile(ticker)
        hist = market.history(ticker, ctx.as_of)
        shares = float(round(p.shares_outstanding * hist.executed[-1]))
        record = {
            **market.ticker_reference(ticker, ctx.as_of),
            "description": f"{p.name} is a simulated company; its data comes from the project's Polygon simulator.",
            "list_date": market.EPOCH.isoformat(),
            "market_cap": round(float(hist.close[-1]) * shares, 2),
            "share_class_shares_outstanding": shares,
            "weighted_shares_outstanding": shares,
            "sic_code": p.sic,
            "homepage_url": f"https://www.{re.sub(r'[^a-z0-9]', '', ticker.lower())}.example",
            "round_lot": 100,
        }
        return 200, {"results": record, "status": "OK", "request_id": ctx.request_id}


def _ordinal_conditions(conditions: list[tuple[str, str]]) -> list[tuple[str, int]]:
    """ISO-date conditions -> day-ordinal conditions (days since 1970)."""
    epoch = dt.date(1970, 1, 1)
    return [(op, (dt.date.fromisoformat(v) - epoch).days) for op, v in conditions]


def _ordinal_window(conditions: list[tuple[str, int]]) -> tuple[int, int]:
    lo, hi = 0, 10**6
    for op, v in conditions:
        if op in ("eq", "gte"):
            lo = max(lo, v)
        if op == "gt":
            lo = max(lo, v + 1)
        if op in ("eq", "lte"):
            hi = min(hi, v)
        if op == "lt":
            hi = min(hi, v - 1)
    return lo, hi


def _aggregate(bars: dict[str, np.ndarray], timespan: str, multiplier: int, start: str) -> dict[str, np.ndarray]:
    """Daily bars -> bars of ``multiplier`` × ``timespan`` (calendar windows; ``t`` is the time of
    the window's first session)."""
    if len(bars["t"]) == 0:
        return bars
    ordinal = ((bars["t"] + 12 * 3_600_000) // 86_400_000).astype(np.int64)  # NY midnight -> its date
    days = ordinal.astype("datetime64[D]")
    if timespan == "day":
        is_ms = start.isdigit() and len(start) > 8
        anchor = int(start) // 86_400_000 if is_ms else (dt.date.fromisoformat(start) - dt.date(1970, 1, 1)).days
        group = (ordinal - anchor) // multiplier
    elif timespan == "week":
        group = ((ordinal + 4) // 7) // multiplier  # weeks start on Sunday
    else:
        months = days.astype("datetime64[M]").astype(np.int64)
        span = {"month": 1, "quarter": 3, "year": 12}[timespan] * multiplier
        group = months // span if timespan != "year" else days.astype("datetime64[Y]").astype(np.int64) // multiplier
    starts = np.concatenate(([0], np.nonzero(np.diff(group))[0] + 1))
    ends = np.concatenate((starts[1:], [len(group)])) - 1
    volume = np.add.reduceat(bars["v"], starts)
    weighted = np.add.reduceat(bars["vw"] * bars["v"], starts)
    return {
        "t": bars["t"][starts],
        "o": bars["o"][starts],
        "c": bars["c"][ends],
        "h": np.maximum.reduceat(bars["h"], starts),
        "l": np.minimum.reduceat(bars["l"], starts),
        "v": volume,
        "vw": np.round(np.where(volume > 0, weighted / np.maximum(volume, 1e-12), bars["c"][ends]), 4),
        "n": np.add.reduceat(bars["n"], starts),
    }
