"""Contract tests of the vendor wire format (enrichment_pipeline.polygon) against the shared
Polygon / Massive fixtures.

The fixtures live outside the repository, in ``<repo>/../shared/polygon_fixtures`` (see its
INDEX.md); set ``POLYGON_FIXTURES_DIR`` to point elsewhere. Every JSON file there is either
mapped to the model of its endpoint in ``FIXTURE_MODELS`` or listed, with the reason, in
``SKIPPED_FIXTURES``; a test fails if a file is in neither, so nothing is skipped silently.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

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

DEFAULT_FIXTURES_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "polygon_fixtures"


def fixtures_dir() -> Path:
    override = os.environ.get("POLYGON_FIXTURES_DIR")
    return Path(override) if override else DEFAULT_FIXTURES_DIR


# Fixture file (relative to the fixtures dir) → model of one item of its ``results``.
FIXTURE_MODELS: dict[str, type[VendorRecord]] = {
    "v2_aggs_ticker_AAPL_range_1_day_2005-04-01_2005-04-04.json": AggregateBar,
    "v2_reference_news__ticker-NFLX.json": NewsArticle,
    "v3_reference_dividends.json": Dividend,
    "v3_reference_splits.json": StockSplit,
    "vX_reference_financials.json": FinancialReport,
    "v3_snapshot_options_AAPL.json": OptionSnapshot,
    "v3_snapshot_options_AAPL__O-AAPL230616C00150000.json": OptionSnapshot,
    "v3_reference_options_contracts.json": OptionContract,
    "v3_reference_options_contracts__cursor-page2.json": OptionContract,
    "v3_reference_options_contracts__O-EVRI240119C00002500.json": OptionContract,
    "v3_reference_tickers.json": ReferenceTicker,
    "v3_reference_tickers__cursor-page2.json": ReferenceTicker,
    "openapi_examples/v3_reference_dividends.json": Dividend,
    "openapi_examples/v3_reference_splits.json": StockSplit,
    "openapi_examples/v3_snapshot_options_underlying.json": OptionSnapshot,
}

# Files deliberately not parsed into a record model, and why.
SKIPPED_FIXTURES: dict[str, str] = {
    "openapi.json": "the vendor's whole OpenAPI spec, not a response body (used by the spec-consistency test)",
    "openapi_examples/stocks_v1_dividends.json": "endpoint /stocks/v1/dividends is not used (we read /v3/reference/dividends)",
    "openapi_examples/stocks_v1_splits.json": "endpoint /stocks/v1/splits is not used (we read /v3/reference/splits)",
    "openapi_examples/stocks_financials_v1_income-statements.json": (
        "endpoint /stocks/financials/v1/income-statements is not used (we read /vX/reference/financials)"
    ),
}

# The vendor's OpenAPI example carries a malformed contract ticker (INDEX.md): 9-digit strike,
# date disagreeing with expiration_date. It must parse as a snapshot but not as a ticker.
MALFORMED_FIXTURE_TICKERS = {"O:AAPL211022C000150000"}


def all_fixture_files() -> list[str]:
    root = fixtures_dir()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json"))


@lru_cache(maxsize=None)
def _load_text(name: str) -> str:
    return (fixtures_dir() / name).read_text(encoding="utf-8")


def load_fixture(name: str) -> dict[str, Any]:
    """A fresh copy of a fixture's response body."""
    return json.loads(_load_text(name))


def fixture_results(name: str) -> list[dict[str, Any]]:
    """The ``results`` of a fixture as a list (one-contract endpoints return an object)."""
    results = load_fixture(name)["results"]
    return [results] if isinstance(results, dict) else list(results)


def option_tickers_in(obj: Any) -> set[str]:
    """Every string value of a ``ticker`` key that looks like an option ticker (``O:...``)."""
    found: set[str] = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "ticker" and isinstance(value, str) and value.startswith("O:"):
                found.add(value)
            else:
                found |= option_tickers_in(value)
    elif isinstance(obj, list):
        for item in obj:
            found |= option_tickers_in(item)
    return found
