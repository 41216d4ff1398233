"""Ticker symbols the pipeline accepts, and the watchlist they come from."""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_SYMBOL_LENGTH = 10
# Upper-case root of 1–6 letters/digits starting with a letter, optionally a class suffix such
# as BRK.B. Anything else could not be a US listing and must not reach a URL, a partition key
# or SQL.
SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,5}(\.[A-Z0-9]{1,3})?$")


class InvalidSymbolError(ValueError):
    """A symbol that is not a plausible upper-case ticker."""


def validate_symbol(raw: str) -> str:
    symbol = raw.strip()
    if not symbol:
        raise InvalidSymbolError("Empty symbol: remove the stray comma or give a ticker such as AAPL.")
    if len(symbol) > MAX_SYMBOL_LENGTH:
        raise InvalidSymbolError(
            f"Symbol {symbol[:20]!r} is {len(symbol)} characters long; tickers have at most "
            f"{MAX_SYMBOL_LENGTH}. Check ENRICHMENT_SYMBOLS or the command's arguments."
        )
    if not SYMBOL_PATTERN.match(symbol):
        hint = " (tickers are upper case: use " + symbol.upper() + ")" if SYMBOL_PATTERN.match(symbol.upper()) else ""
        raise InvalidSymbolError(
            f"Symbol {symbol!r} is not a valid ticker{hint}: expected 1–6 upper-case letters or digits "
            "starting with a letter, optionally a class suffix such as BRK.B."
        )
    return symbol


def parse_symbol_list(raw: str | Iterable[str]) -> list[str]:
    """Validate a comma-separated list (or an iterable) of symbols; keep order, drop repeats."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    seen: dict[str, None] = {}
    errors = []
    for item in items:
        if isinstance(raw, str) and not item.strip():
            continue
        try:
            seen.setdefault(validate_symbol(item), None)
        except InvalidSymbolError as error:
            errors.append(str(error))
    if errors:
        raise InvalidSymbolError("; ".join(errors))
    return list(seen)
