"""Polygon / Massive option tickers: ``O:`` + root + YYMMDD + ``C``/``P`` + strike×1000 (8 digits).

``O:AAPL230616C00150000`` is the AAPL $150 call expiring 2023-06-16. Tickers are parsed from
the right: the last 15 characters are the date (6), the type (1) and the strike (8); the rest,
after an optional ``O:``, is the root. A single stray digit between the root and the date marks
a corrected (adjusted) contract (CONTRACT.md: "query without it"); it is split off the root and
kept as ``correction``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["OptionTicker", "parse_option_ticker", "format_option_ticker", "OPTION_PREFIX"]

OPTION_PREFIX = "O:"
_TAIL_LENGTH = 15  # YYMMDD + C/P + 8-digit strike
_ROOT = re.compile(r"[A-Z]+")
_MAX_STRIKE_UNITS = 99_999_999  # 8 digits of strike × 1000


@dataclass(frozen=True)
class OptionTicker:
    root: str
    expiration_date: dt.date
    contract_type: Literal["call", "put"]
    strike: float
    correction: int | None = None  # the stray digit of a corrected contract, if any

    @property
    def ticker(self) -> str:
        """Canonical ticker, ``O:`` prefix included and without the correction digit."""
        return format_option_ticker(self.root, self.expiration_date, self.contract_type, self.strike)


def _bad(ticker: object, problem: str) -> ValueError:
    return ValueError(f"invalid option ticker {ticker!r}: {problem}")


def parse_option_ticker(ticker: str) -> OptionTicker:
    """Parse ``[O:]ROOT[digit]YYMMDD(C|P)SSSSSSSS``; raises ValueError naming what is wrong."""
    if not isinstance(ticker, str):
        raise _bad(ticker, f"expected a string, got {type(ticker).__name__}")
    body = ticker[len(OPTION_PREFIX) :] if ticker.startswith(OPTION_PREFIX) else ticker
    if len(body) <= _TAIL_LENGTH:
        raise _bad(
            ticker,
            f"too short: need a root followed by 15 characters YYMMDD + C/P + 8-digit strike, got {len(body)} characters",
        )
    root, tail = body[:-_TAIL_LENGTH], body[-_TAIL_LENGTH:]
    date_part, type_part, strike_part = tail[:6], tail[6], tail[7:]

    if not (date_part.isascii() and date_part.isdigit()):
        raise _bad(ticker, f"expiration {date_part!r} should be 6 digits YYMMDD")
    try:
        expiration = dt.date(2000 + int(date_part[:2]), int(date_part[2:4]), int(date_part[4:]))
    except ValueError:
        raise _bad(ticker, f"expiration {date_part!r} (YYMMDD) is not a real date") from None

    if type_part not in ("C", "P"):
        raise _bad(ticker, f"contract type character {type_part!r} should be 'C' or 'P'")
    contract_type: Literal["call", "put"] = "call" if type_part == "C" else "put"

    if not (strike_part.isascii() and strike_part.isdigit()):
        raise _bad(ticker, f"strike {strike_part!r} should be 8 digits (strike × 1000)")
    strike_units = int(strike_part)
    if strike_units == 0:
        raise _bad(ticker, "strike is zero")

    correction: int | None = None
    if len(root) > 1 and root[-1].isascii() and root[-1].isdigit():
        correction = int(root[-1])
        root = root[:-1]
    if not _ROOT.fullmatch(root):
        raise _bad(ticker, f"root {root!r} should be upper-case letters (optionally followed by one correction digit)")

    return OptionTicker(
        root=root,
        expiration_date=expiration,
        contract_type=contract_type,
        strike=strike_units / 1000,
        correction=correction,
    )


def format_option_ticker(
    root: str,
    expiration: dt.date | str,
    contract_type: str,
    strike: float,
) -> str:
    """Build ``O:ROOTYYMMDD(C|P)SSSSSSSS``. ``contract_type`` is call/put (or C/P);
    ``expiration`` a date or ``YYYY-MM-DD``; ``strike`` in dollars with at most 3 decimals."""
    if not isinstance(root, str) or not _ROOT.fullmatch(root):
        raise ValueError(f"cannot format option ticker: root {root!r} should be upper-case letters")

    if isinstance(expiration, dt.datetime):
        raise ValueError(f"cannot format option ticker for {root}: expiration {expiration!r} should be a date")
    if isinstance(expiration, str):
        try:
            expiration = dt.date.fromisoformat(expiration)
        except ValueError:
            raise ValueError(
                f"cannot format option ticker for {root}: expiration {expiration!r} is not a YYYY-MM-DD date"
            ) from None
    if not isinstance(expiration, dt.date):
        raise ValueError(f"cannot format option ticker for {root}: expiration {expiration!r} should be a date")
    if not 2000 <= expiration.year <= 2099:
        raise ValueError(f"cannot format option ticker for {root}: expiration year {expiration.year} outside 2000–2099")

    kind = contract_type.lower() if isinstance(contract_type, str) else contract_type
    letter = {"call": "C", "c": "C", "put": "P", "p": "P"}.get(kind)  # type: ignore[arg-type]
    if letter is None:
        raise ValueError(f"cannot format option ticker for {root}: contract type {contract_type!r} should be call or put")

    if isinstance(strike, bool) or not isinstance(strike, (int, float)) or not math.isfinite(strike):
        raise ValueError(f"cannot format option ticker for {root}: strike {strike!r} should be a finite number")
    units = round(strike * 1000)
    if abs(units - strike * 1000) > 1e-6 * max(1.0, abs(strike)):
        raise ValueError(f"cannot format option ticker for {root}: strike {strike!r} has more than 3 decimals")
    if not 0 < units <= _MAX_STRIKE_UNITS:
        raise ValueError(f"cannot format option ticker for {root}: strike {strike!r} outside (0, 99999.999]")

    return f"{OPTION_PREFIX}{root}{expiration:%y%m%d}{letter}{units:08d}"
