"""Fault injection for the simulator: deterministic, thread-safe, driven from Python or over HTTP.

Standing faults (attributes, stay on until changed):

* ``rate_limit_per_minute`` – at most N API requests in any sliding 60 s window, across all
  clients; the excess gets the vendor's 429 with ``Retry-After`` (whole seconds until a slot frees).
* ``delay_seconds`` – every API response waits this long (in-process, a delay longer than the
  client's read timeout raises ``httpx.ReadTimeout`` after the timeout, like a real socket).
* ``pagination_loop`` – every ``next_url`` repeats the request's own cursor (page 1 points to page 2,
  page 2 to itself, forever).
* ``foreign_next_url`` – ``next_url`` points to another host (``FOREIGN_HOST`` or the given URL).
* ``bad_records_for_symbols`` / ``bad_record_share`` and ``bad_record_rate`` – records of the listed
  symbols (a ``bad_record_share`` of them, default 25 %) or of every symbol (``bad_record_rate``)
  are corrupted: a numeric field as the string ``"abc"``, a required field missing, or a negative
  volume/amount/price. Which records and how is a pure function of endpoint, symbol and record
  key (sha256), so a given record is always corrupted the same way.

One-shot faults form a FIFO queue; each API request consumes the first entry whose
``path_prefix`` matches its path (if any):

* ``fail_next(n, status=429|500|502|503|504, retry_after=None, path_prefix=None)``
* ``malformed_json_next(n)`` – status 200 with a body that is not valid JSON
* ``truncated_page_next(n)`` – status 200 with the JSON body cut in the middle
* ``reset_connection_next(n)`` – no response at all: the server closes the socket; in-process the
  transport raises ``httpx.RemoteProtocolError``
* ``delay_next(n, seconds)`` – one slow response

Over HTTP (loopback server): ``POST /_sim/faults`` with a JSON object whose keys are the
attribute names above and/or the one-shot names with their arguments (``{"fail_next": {"n": 2,
"status": 503, "retry_after": 1}}``, or a list of such objects); ``"clear": true`` first resets
everything. ``GET /_sim/faults`` shows the configuration, ``POST /_sim/reset`` clears faults and
stats.
"""

from __future__ import annotations

import copy
import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Faults", "FaultPlan", "FOREIGN_HOST", "RATE_LIMIT_MESSAGE"]

FOREIGN_HOST = "http://evil.example.invalid"
NOT_ENTITLED_MESSAGE = "You are not entitled to this data. Please upgrade your plan at https://massive.com/pricing"
RATE_LIMIT_MESSAGE = (
    "You've exceeded the maximum requests per minute, please wait or upgrade your subscription to "
    "continue. https://massive.com/pricing"
)
WINDOW_SECONDS = 60.0
FAIL_STATUSES = (403, 429, 500, 502, 503, 504)
_ONE_SHOT_KINDS = ("fail", "malformed_json", "truncated_page", "reset_connection", "delay")


@dataclass
class FaultPlan:
    """What the current request will suffer (from the one-shot queue)."""

    kind: str | None = None
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0

    @property
    def reset_connection(self) -> bool:
        return self.kind == "reset_connection"

    @property
    def malformed_json(self) -> bool:
        return self.kind == "malformed_json"

    @property
    def truncated_page(self) -> bool:
        return self.kind == "truncated_page"


@dataclass
class _Entry:
    kind: str
    remaining: int
    path_prefix: str | None = None
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind, "remaining": self.remaining}
        for key in ("path_prefix", "status", "retry_after"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.kind == "delay":
            out["seconds"] = self.delay
        return out


class Faults:
    """Fault configuration of one simulator. Every public method is thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.RLock()
        self._queue: list[_Entry] = []
        self._window: deque[float] = deque()
        self.rate_limit_per_minute: int | None = None
        self.delay_seconds: float = 0.0
        self.pagination_loop: bool = False
        self.foreign_next_url: bool | str = False
        self.bad_records_for_symbols: set[str] = set()
        self.bad_record_share: float = 0.25
        self.bad_record_rate: float = 0.0

    # ---- one-shot queue ---------------------------------------------------------------------

    def _push(self, entry: _Entry) -> None:
        if entry.remaining < 0:
            raise ValueError("n must be >= 0")
        if entry.remaining:
            with self._lock:
                self._queue.append(entry)

    def fail_next(self, n: int = 1, status: int = 500, retry_after: float | None = None, path_prefix: str | None = None) -> None:
        """The next ``n`` matching requests get HTTP ``status`` (429 with the vendor's body)."""
        if int(status) not in FAIL_STATUSES:
            raise ValueError(f"status must be one of {FAIL_STATUSES}")
        self._push(_Entry("fail", int(n), path_prefix, int(status), None if retry_after is None else float(retry_after)))

    def malformed_json_next(self, n: int = 1, path_prefix: str | None = None) -> None:
        self._push(_Entry("malformed_json", int(n), path_prefix))

    def truncated_page_next(self, n: int = 1, path_prefix: str | None = None) -> None:
        self._push(_Entry("truncated_page", int(n), path_prefix))

    def reset_connection_next(self, n: int = 1, path_prefix: str | None = None) -> None:
        self._push(_Entry("reset_connection", int(n), path_prefix))

    def delay_next(self, n: int = 1, seconds: float = 1.0, path_prefix: str | None = None) -> None:
        self._push(_Entry("delay", int(n), path_prefix, delay=float(seconds)))

    def pending(self) -> list[dict]:
        with self._lock:
            return [e.as_dict() for e in self._queue]

    def take(self, path: str) -> FaultPlan:
        """Consume the first queued fault matching ``path`` (called once per API request)."""
        with self._lock:
            for i, entry in enumerate(self._queue):
                if entry.path_prefix is None or path.startswith(entry.path_prefix):
                    entry.remaining -= 1
                    if entry.remaining <= 0:
                        del self._queue[i]
                    return FaultPlan(entry.kind, entry.status, entry.retry_after, entry.delay)
        return FaultPlan()

    # ---- rate limit -------------------------------------------------------------------------

    def admit(self) -> int | None:
        """Count a request against the rate limit: None if admitted, else seconds to wait."""
        limit = self.rate_limit_per_minute
        if not limit:
            return None
        with self._lock:
            now = self.clock()
            while self._window and self._window[0] <= now - WINDOW_SECONDS:
                self._window.popleft()
            if len(self._window) >= limit:
                return max(1, math.ceil(self._window[0] + WINDOW_SECONDS - now))
            self._window.append(now)
            return None

    # ---- bad records ------------------------------------------------------------------------

    def _bad_rate(self, symbol: str) -> float:
        if symbol in self.bad_records_for_symbols:
            return max(self.bad_record_share, self.bad_record_rate)
        return self.bad_record_rate

    def has_bad_records(self, symbols: Iterable[str]) -> bool:
        return self.bad_record_rate > 0 or any(s in self.bad_records_for_symbols for s in symbols)

    @staticmethod
    def _digest(endpoint: str, symbol: str, key: object) -> bytes:
        return hashlib.sha256(f"{endpoint}|{symbol}|{key}".encode()).digest()

    def bad_record_kind(self, endpoint: str, symbol: str, key: object) -> str | None:
        """``"wrong_type"``, ``"missing_field"`` or ``"negative"`` if this record is corrupted."""
        rate = self._bad_rate(symbol)
        if rate <= 0:
            return None
        digest = self._digest(endpoint, symbol, key)
        if int.from_bytes(digest[:8], "big") / 2**64 >= rate:
            return None
        return ("wrong_type", "missing_field", "negative")[digest[8] % 3]

    def corrupt(self, endpoint: str, symbol: str, key: object, record: dict) -> dict:
        """``record`` itself when it stays valid, else a corrupted deep copy."""
        kind = self.bad_record_kind(endpoint, symbol, key)
        if kind is None:
            return record
        return _CORRUPTORS.get(endpoint, _corrupt_generic)(copy.deepcopy(record), kind)

    # ---- configuration ----------------------------------------------------------------------

    def clear(self) -> None:
        """Every fault off, the queue emptied and the rate-limit window forgotten."""
        with self._lock:
            self._queue.clear()
            self._window.clear()
            self.rate_limit_per_minute = None
            self.delay_seconds = 0.0
            self.pagination_loop = False
            self.foreign_next_url = False
            self.bad_records_for_symbols = set()
            self.bad_record_share = 0.25
            self.bad_record_rate = 0.0

    def as_dict(self) -> dict:
        with self._lock:
            return {
                "rate_limit_per_minute": self.rate_limit_per_minute,
                "delay_seconds": self.delay_seconds,
                "pagination_loop": self.pagination_loop,
                "foreign_next_url": self.foreign_next_url,
                "bad_records_for_symbols": sorted(self.bad_records_for_symbols),
                "bad_record_share": self.bad_record_share,
                "bad_record_rate": self.bad_record_rate,
                "requests_in_rate_window": len(self._window),
                "queue": [e.as_dict() for e in self._queue],
            }

    def configure(self, spec: dict) -> None:
        """Apply a JSON fault specification (see the module docstring); raises ValueError."""
        if not isinstance(spec, dict):
            raise ValueError("the fault specification must be a JSON object")
        known = {
            "clear", "rate_limit_per_minute", "delay_seconds", "pagination_loop", "foreign_next_url",
            "bad_records_for_symbols", "bad_record_share", "bad_record_rate", "fail_next",
            "malformed_json_next", "truncated_page_next", "reset_connection_next", "delay_next",
        }
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        with self._lock:
            if spec.get("clear"):
                self.clear()
            if "rate_limit_per_minute" in spec:
                value = spec["rate_limit_per_minute"]
                self.rate_limit_per_minute = None if value in (None, 0) else int(value)
            if "delay_seconds" in spec:
                self.delay_seconds = float(spec["delay_seconds"] or 0.0)
            if "pagination_loop" in spec:
                self.pagination_loop = bool(spec["pagination_loop"])
            if "foreign_next_url" in spec:
                value = spec["foreign_next_url"]
                self.foreign_next_url = value if isinstance(value, str) else bool(value)
            if "bad_records_for_symbols" in spec:
                self.bad_records_for_symbols = set(spec["bad_records_for_symbols"] or [])
            if "bad_record_share" in spec:
                self.bad_record_share = float(spec["bad_record_share"])
            if "bad_record_rate" in spec:
                self.bad_record_rate = float(spec["bad_record_rate"])
            for name, method in (
                ("fail_next", self.fail_next),
                ("malformed_json_next", self.malformed_json_next),
                ("truncated_page_next", self.truncated_page_next),
                ("reset_connection_next", self.reset_connection_next),
                ("delay_next", self.delay_next),
            ):
                if name not in spec:
                    continue
                value = spec[name]
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, dict):
                        method(**item)
                    else:
                        method(int(item))

    def foreign_base(self) -> str | None:
        value = self.foreign_next_url
        if not value:
            return None
        return value.rstrip("/") if isinstance(value, str) else FOREIGN_HOST


# ---- record corruption ------------------------------------------------------------------------


def _corrupt_generic(record: dict, kind: str) -> dict:
    key = next(iter(record))
    if kind == "missing_field":
        record.pop(key)
    else:
        record[key] = "abc"
    return record


def _corrupt_bar(record: dict, kind: str) -> dict:
    if kind == "wrong_type":
        record["c"] = "abc"
    elif kind == "missing_field":
        record.pop("c", None)
    else:
        record["v"] = -abs(record.get("v", 1) or 1)
    return record


def _corrupt_dividend(record: dict, kind: str) -> dict:
    if kind == "wrong_type":
        record["cash_amount"] = "abc"
    elif kind == "missing_field":
        record.pop("ex_dividend_date", None)
    else:
        record["cash_amount"] = -abs(record["cash_amount"])
    return record


def _corrupt_split(record: dict, kind: str) -> dict:
    if kind == "wrong_type":
        record["split_to"] = "abc"
    elif kind == "missing_field":
        record.pop("execution_date", None)
    else:
        record["split_from"] = -abs(record["split_from"])
    return record


def _corrupt_financials(record: dict, kind: str) -> dict:
    statement = record["financials"]["income_statement"]
    if kind == "wrong_type":
        statement["diluted_earnings_per_share"]["value"] = "abc"
    elif kind == "missing_field":
        record.pop("end_date", None)
        statement.pop("basic_earnings_per_share", None)
    else:
        statement["revenues"]["value"] = -abs(statement["revenues"]["value"])
    return record


def _corrupt_news(record: dict, kind: str) -> dict:
    if kind == "wrong_type":
        record["tickers"] = "abc"
    elif kind == "missing_field":
        record.pop("published_utc", None)
    else:
        record["published_utc"] = "abc"
    return record


def _corrupt_snapshot(record: dict, kind: str) -> dict:
    if kind == "wrong_type":
        record["day"]["close"] = "abc"
    elif kind == "missing_field":
        record["details"].pop("strike_price", None)
    else:
        record["day"]["volume"] = -abs(record["day"]["volume"] or 1)
    return record


def _corrupt_contract(record: dict, kind: str) -> dict:
    if kind == "wrong_type":
        record["strike_price"] = "abc"
    elif kind == "missing_field":
        record.pop("expiration_date", None)
    else:
        record["strike_price"] = -abs(record["strike_price"])
    return record


def _corrupt_ticker(record: dict, kind: str) -> dict:
    if kind == "missing_field":
        record.pop("name", None)
    else:
        record["active"] = "abc"
    return record


_CORRUPTORS: dict[str, Callable[[dict, str], dict]] = {
    "aggs": _corrupt_bar,
    "dividends": _corrupt_dividend,
    "splits": _corrupt_split,
    "financials": _corrupt_financials,
    "news": _corrupt_news,
    "snapshot": _corrupt_snapshot,
    "contracts": _corrupt_contract,
    "tickers": _corrupt_ticker,
}
