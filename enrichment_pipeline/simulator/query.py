"""Query-string handling shared by the simulator's endpoints: parameter parsing and validation,
the vendor's range filters (``field``, ``field.gt``, ``.gte``, ``.lt``, ``.lte``), sorting and
cursor pagination.

Cursors are opaque to clients: the base64url (unpadded) encoding of the original query — filters,
``limit``, ``sort``, ``order`` — plus the ``offset`` of the next page and the session the first
page was computed for (``_as_of``), so every page of one listing sees the same data. Credentials
(``apiKey``) are never part of a cursor.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np

__all__ = [
    "BadRequest",
    "CREDENTIAL_PARAMS",
    "RANGE_OPS",
    "Params",
    "encode_cursor",
    "decode_cursor",
    "parse_date",
    "parse_timestamp",
    "parse_bool",
    "parse_number",
]

CREDENTIAL_PARAMS = frozenset({"apikey", "api_key"})
RANGE_OPS = ("", "gt", "gte", "lt", "lte")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadRequest(ValueError):
    """A request parameter the vendor would reject with HTTP 400."""


def encode_cursor(params: Mapping[str, str]) -> str:
    query = urlencode(sorted((k, str(v)) for k, v in params.items() if k.lower() not in CREDENTIAL_PARAMS))
    return base64.urlsafe_b64encode(query.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=True)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("invalid cursor") from None
    if not any(k == "offset" for k, _ in pairs):
        raise BadRequest("invalid cursor")
    return dict(pairs)


def parse_date(value: str, name: str) -> dt.date:
    if not _DATE.fullmatch(value or ""):
        raise BadRequest(f"'{name}' must be a date in the format YYYY-MM-DD, got '{value}'")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"'{name}' is not a valid date: '{value}'") from None


def parse_timestamp(value: str, name: str) -> int:
    """A date (midnight UTC) or an RFC 3339 timestamp -> Unix seconds."""
    if _DATE.fullmatch(value or ""):
        day = parse_date(value, name)
        return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc).timestamp())
    text = (value or "").strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"'{name}' must be a date (YYYY-MM-DD) or an RFC 3339 timestamp, got '{value}'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp())


def parse_bool(value: str, name: str) -> bool:
    lowered = (value or "").lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise BadRequest(f"'{name}' must be true or false, got '{value}'")


def parse_number(value: str, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"'{name}' must be a number, got '{value}'") from None
    if not np.isfinite(number):
        raise BadRequest(f"'{name}' must be a finite number, got '{value}'")
    return number


class Params:
    """The effective parameters of one request (from the query string or from its cursor)."""

    def __init__(self, query: list[tuple[str, str]]):
        items = [(k, v) for k, v in query if k.lower() not in CREDENTIAL_PARAMS]
        cursor = next((v for k, v in items if k == "cursor"), None)
        if cursor is not None:
            self.values = decode_cursor(cursor)
            self.cursor: str | None = cursor
        else:
            self.values = {}
            for k, v in items:
                self.values.setdefault(k, v)  # first occurrence wins
            self.cursor = None
        try:
            self.offset = int(self.values.pop("offset", "0"))
        except ValueError:
            raise BadRequest("invalid cursor") from None
        if self.offset < 0:
            raise BadRequest("invalid cursor")

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def limit(self, default: int, maximum: int, clamp: bool = False) -> int:
        raw = self.values.get("limit")
        if raw is None or raw == "":
            return default
        try:
            limit = int(raw)
        except ValueError:
            raise BadRequest(f"'limit' must be an integer, got '{raw}'") from None
        if limit < 1:
            raise BadRequest("'limit' must be at least 1")
        if limit > maximum:
            if clamp:
                return maximum
            raise BadRequest(f"'limit' must be less than or equal to {maximum}")
        return limit

    def order(self, default: str) -> str:
        order = (self.values.get("order") or default).lower()
        if order not in ("asc", "desc"):
            raise BadRequest(f"'order' must be asc or desc, got '{order}'")
        return order

    def choice(self, name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if value not in allowed:
            raise BadRequest(f"'{name}' must be one of {', '.join(allowed)}, got '{value}'")
        return value

    def boolean(self, name: str, default: bool | None) -> bool | None:
        value = self.values.get(name)
        return default if value is None or value == "" else parse_bool(value, name)

    def ranges(self, field: str, parse: Callable[[str, str], Any]) -> list[tuple[str, Any]]:
        """``[(op, value)]`` for ``field`` (op "eq") and its ``.gt/.gte/.lt/.lte`` variants."""
        out = []
        for op in RANGE_OPS:
            name = f"{field}.{op}" if op else field
            raw = self.values.get(name)
            if raw is not None and raw != "":
                out.append((op or "eq", parse(raw, name)))
        return out

    def cursor_for(self, offset: int, extra: Mapping[str, str] | None = None) -> str:
        return encode_cursor({**self.values, **(extra or {}), "offset": str(offset)})


def match(value: Any, conditions: list[tuple[str, Any]]) -> bool:
    """Whether a scalar satisfies every ``(op, bound)``."""
    for op, bound in conditions:
        if value is None:
            return False
        if op == "eq" and not value == bound:
            return False
        if op == "gt" and not value > bound:
            return False
        if op == "gte" and not value >= bound:
            return False
        if op == "lt" and not value < bound:
            return False
        if op == "lte" and not value <= bound:
            return False
    return True


def mask(values: np.ndarray, conditions: list[tuple[str, Any]]) -> np.ndarray:
    """Vectorised ``match`` over an array."""
    keep = np.ones(len(values), dtype=bool)
    for op, bound in conditions:
        if op == "eq":
            keep &= values == bound
        elif op == "gt":
            keep &= values > bound
        elif op == "gte":
            keep &= values >= bound
        elif op == "lt":
            keep &= values < bound
        elif op == "lte":
            keep &= values <= bound
    return keep


def as_text(value: str, name: str) -> str:  # noqa: ARG001 - the parse signature of ``Params.ranges``
    return value


def as_iso_date(value: str, name: str) -> str:
    """A validated date kept as ISO text (compares correctly with ISO strings)."""
    return parse_date(value, name).isoformat()
