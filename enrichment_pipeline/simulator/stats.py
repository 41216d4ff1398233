"""Thread-safe request counters of a simulator (what a test or benchmark asserts on).

Only the method, path and query of a request are kept, with credential parameters (``apiKey``)
removed; headers, and so the ``Authorization`` header, are never looked at.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from urllib.parse import urlencode

from enrichment_pipeline.simulator.query import CREDENTIAL_PARAMS

__all__ = ["Stats", "endpoint_prefix"]

_PREFIXES = (
    "/v2/aggs",
    "/v3/reference/dividends",
    "/v3/reference/splits",
    "/vX/reference/financials",
    "/v2/reference/news",
    "/v3/snapshot/options",
    "/v3/reference/options/contracts",
    "/v3/reference/tickers",
)


def endpoint_prefix(path: str) -> str:
    """The endpoint family of a path, e.g. ``/v2/aggs`` for every aggregates request."""
    for prefix in _PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return "/" + "/".join(path.strip("/").split("/")[:3])


class Stats:
    def __init__(self, recent_size: int = 1000):
        self._lock = threading.Lock()
        self._recent: deque[str] = deque(maxlen=recent_size)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._total = 0
            self._by_prefix: Counter[str] = Counter()
            self._by_status: Counter[int] = Counter()
            self._rate_limited = 0
            self._recent.clear()

    def record_request(self, method: str, path: str, query: list[tuple[str, str]]) -> None:
        clean = urlencode([(k, v) for k, v in query if k.lower() not in CREDENTIAL_PARAMS])
        line = f"{method} {path}" + (f"?{clean}" if clean else "")
        with self._lock:
            self._total += 1
            self._by_prefix[endpoint_prefix(path)] += 1
            self._recent.append(line)

    def record_status(self, status: int | None) -> None:
        """``None`` stands for a connection closed without a response."""
        with self._lock:
            self._by_status[status if status is not None else 0] += 1
            if status == 429:
                self._rate_limited += 1

    @property
    def total_requests(self) -> int:
        with self._lock:
            return self._total

    @property
    def by_prefix(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_prefix)

    @property
    def by_status(self) -> dict[int, int]:
        """Responses per HTTP status; ``0`` counts connections dropped without a response."""
        with self._lock:
            return dict(self._by_status)

    @property
    def rate_limited(self) -> int:
        """429 responses served (by the rate limit or by ``fail_next(status=429)``)."""
        with self._lock:
            return self._rate_limited

    @property
    def recent(self) -> list[str]:
        """The latest requests as ``"GET /path?query"`` (oldest first), without credentials."""
        with self._lock:
            return list(self._recent)

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "total_requests": self._total,
                "by_prefix": dict(self._by_prefix),
                "by_status": {str(k): v for k, v in sorted(self._by_status.items())},
                "rate_limited": self._rate_limited,
                "recent": list(self._recent),
            }
