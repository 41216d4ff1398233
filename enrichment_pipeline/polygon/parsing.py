"""Turn raw vendor records into validated models, keeping every failure as a ``Reject``.

Nothing is dropped silently: every input record ends up either in ``ParseResult.valid`` or in
``ParseResult.rejects`` with a short human reason built from the pydantic errors
(``"c: Input should be a finite number (got nan)"``) and a stable ``record_hash`` (sha256 of
the record's canonical JSON) that keys the ``rejected_records`` table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from enrichment_pipeline.polygon.models import (
    AggregateBar,
    Dividend,
    FinancialReport,
    NewsArticle,
    OptionContract,
    OptionSnapshot,
    ReferenceTicker,
    StockSplit,
    VendorRecord,
)

__all__ = [
    "DATASET_MODELS",
    "REFERENCE_MODELS",
    "ParseResult",
    "Reject",
    "canonical_json",
    "extract_results",
    "format_validation_error",
    "parse_records",
    "summarize_rejects",
]

# Enrichment table (storage/schema.py) → model of the vendor record that fills it.
DATASET_MODELS: dict[str, type[VendorRecord]] = {
    "market_data": AggregateBar,
    "dividends": Dividend,
    "stock_splits": StockSplit,
    "earnings": FinancialReport,
    "news": NewsArticle,
    "options_iv": OptionSnapshot,
}

# Reference data with no table of its own.
REFERENCE_MODELS: dict[str, type[VendorRecord]] = {
    "options_contracts": OptionContract,
    "tickers": ReferenceTicker,
}

M = TypeVar("M", bound=VendorRecord)

_MAX_ERRORS_IN_REASON = 5
_MAX_INPUT_REPR = 40
_STRIP_PREFIXES = ("Value error, ", "Assertion failed, ")


def canonical_json(raw: Any) -> str:
    """Deterministic JSON of a raw record: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True, default=str)


@dataclass(frozen=True)
class Reject:
    """A record that did not validate. ``raw`` is the record as received (normally a dict)."""

    raw: Any
    reason: str

    @property
    def payload(self) -> str:
        return canonical_json(self.raw)

    @property
    def record_hash(self) -> str:
        return hashlib.sha256(self.payload.encode("utf-8")).hexdigest()

    def to_row(
        self,
        dataset: str,
        symbol: str | None,
        rejected_at: dt.datetime,
        endpoint: str | None = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """A row of the ``rejected_records`` table. ``endpoint`` must not contain the API key."""
        return {
            "dataset": dataset,
            "record_hash": self.record_hash,
            "symbol": symbol,
            "endpoint": endpoint,
            "reason": self.reason,
            "payload": self.payload,
            "rejected_at": rejected_at,
            "run_id": run_id,
        }


@dataclass
class ParseResult(Generic[M]):
    valid: list[M] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.valid) + len(self.rejects)

    def rows(self, symbol: str, fetched_at: dt.datetime, is_simulated: bool, **context: Any) -> list[dict[str, Any]]:
        """``to_row`` of every valid record."""
        return [record.to_row(symbol, fetched_at, is_simulated, **context) for record in self.valid]


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_INPUT_REPR else text[: _MAX_INPUT_REPR - 3] + "..."


def format_validation_error(error: ValidationError, max_errors: int = _MAX_ERRORS_IN_REASON) -> str:
    """``"field.path: problem (got value)"`` for each error, joined with ``"; "``."""
    parts: list[str] = []
    details = error.errors(include_url=False)
    for item in details[:max_errors]:
        msg = item["msg"]
        for prefix in _STRIP_PREFIXES:
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
        loc = ".".join(str(p) for p in item["loc"])
        text = f"{loc}: {msg}" if loc else msg
        # Show the offending value for field-level problems (not for missing fields, whose
        # "input" is the whole parent object, nor for record-level checks).
        if loc and item["type"] != "missing" and "input" in item:
            text += f" (got {_short_repr(item['input'])})"
        parts.append(text)
    if len(details) > max_errors:
        parts.append(f"(+{len(details) - max_errors} more)")
    return "; ".join(parts)


def parse_records(model_cls: type[M], raw_records: Iterable[Any] | Mapping[str, Any] | None) -> ParseResult[M]:
    """Validate every raw record into ``model_cls``; the ones that fail become ``Reject``s.

    ``raw_records`` is an endpoint's ``results``: normally a list; a single object (the
    one-contract snapshot endpoints return one) is treated as a list of one; ``None`` as empty.
    """
    result: ParseResult[M] = ParseResult()
    if raw_records is None:
        return result
    if isinstance(raw_records, Mapping):
        raw_records = [raw_records]
    for raw in raw_records:
        if not isinstance(raw, Mapping):
            reason = f"record is not a JSON object (got {type(raw).__name__})"
        else:
            try:
                result.valid.append(model_cls.model_validate(raw))
                continue
            except ValidationError as exc:
                reason = format_validation_error(exc)
            except (TypeError, ValueError) as exc:  # a validator bug must still not crash a run
                reason = f"{type(exc).__name__}: {exc}"
        result.rejects.append(Reject(raw=raw, reason=reason))
    return result


def summarize_rejects(rejects: list[Reject], limit: int = 3) -> dict[str, Any]:
    """Small JSON-able summary for Dagster metadata: the count, the most common reasons and the
    first ``limit`` examples (reason, hash and a truncated payload)."""
    counts = Counter(r.reason for r in rejects)
    return {
        "count": len(rejects),
        "top_reasons": [{"reason": reason, "count": n} for reason, n in counts.most_common(limit)],
        "examples": [
            {
                "reason": r.reason,
                "record_hash": r.record_hash,
                "payload": r.payload if len(r.payload) <= 300 else r.payload[:297] + "...",
            }
            for r in rejects[:limit]
        ],
    }


def extract_results(body: Any) -> list[Any]:
    """The ``results`` of a response body as a list: absent or null → ``[]``, a single object
    (one-contract endpoints) → ``[object]``. Raises ValueError when the body is not an object or
    ``results`` has another type."""
    if not isinstance(body, Mapping):
        raise ValueError(f"response body should be a JSON object, got {type(body).__name__}")
    results = body.get("results")
    if results is None:
        return []
    if isinstance(results, Mapping):
        return [results]
    if isinstance(results, list):
        return results
    raise ValueError(f"'results' should be a list or an object, got {type(results).__name__}")
