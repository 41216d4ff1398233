"""Where the risk-free rate and the dividend yield used for option IV and greeks come from.

Both are annual, continuously compounded decimals (0.04 means 4 % a year), the units
``analytics.options`` expects. They are configuration, not constants buried in the solver:

* ``ENRICHMENT_RISK_FREE_RATE`` — one flat rate for every date (default ``DEFAULT_RISK_FREE_RATE``).
* ``ENRICHMENT_RISK_FREE_RATE_CSV`` — path to a CSV the user supplies with a header ``date,rate``
  (ISO dates, decimal rates). The rate is piecewise constant: each row applies from its date
  until the next row's date, and the last row's rate is carried forward. When set, it takes
  precedence over the flat rate. A date before the first row is an error: the file does not
  cover it, and silently inventing a rate would mis-state every IV computed for that day.
* ``ENRICHMENT_DIVIDEND_YIELD`` — one flat dividend yield (default ``DEFAULT_DIVIDEND_YIELD``).

Bad configuration raises ``ValueError`` naming the variable or file and the problem.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

RISK_FREE_RATE_ENV = "ENRICHMENT_RISK_FREE_RATE"
RISK_FREE_RATE_CSV_ENV = "ENRICHMENT_RISK_FREE_RATE_CSV"
DIVIDEND_YIELD_ENV = "ENRICHMENT_DIVIDEND_YIELD"

DEFAULT_RISK_FREE_RATE = 0.04
"""Flat rate used when neither ``ENRICHMENT_RISK_FREE_RATE`` nor a CSV is configured.

About the level of short-dated US Treasury bill yields in 2023–2025, the years the simulator and
recent history cover. For options of a few weeks to months the IV is insensitive to it (an error
of one rate point moves σ by rho/vega, typically a few hundredths of a vol point), so a flat
default is acceptable; supply a CSV for exact history.
"""

DEFAULT_DIVIDEND_YIELD = 0.0
"""Flat dividend yield used when ``ENRICHMENT_DIVIDEND_YIELD`` is not set: no dividends, the
neutral choice when the per-symbol yield is unknown."""

# Rates are decimals; an absolute value above this is almost certainly a percentage (5 for 5 %).
_MAX_ABS_RATE = 1.0


def _environment(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def calendar_days(dates: ArrayLike) -> NDArray[np.datetime64]:
    """Dates (ISO strings, ``datetime.date``, numpy or pandas datetimes) as ``datetime64[D]``.

    Keeps the shape; missing values become NaT; tz-aware timestamps keep their local date.
    """
    values = np.asarray(dates)
    if values.dtype.kind == "M":
        return values.astype("datetime64[D]")
    if values.dtype.kind != "O":
        try:
            return np.asarray(values, dtype="datetime64[D]")
        except (TypeError, ValueError):
            pass
    # Objects (datetime.date, pandas Timestamps, possibly tz-aware) or strings with a time part.
    try:
        index = pd.DatetimeIndex(pd.to_datetime(values.ravel()))
    except (TypeError, ValueError) as error:
        raise ValueError(f"dates could not be read as dates: {error}") from None
    if index.tz is not None:
        index = index.tz_localize(None)  # the calendar date where the timestamp was taken
    return index.to_numpy().astype("datetime64[D]").reshape(values.shape)


def _parse_rate(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {text!r} is not a finite number")
    if abs(value) > _MAX_ABS_RATE:
        raise ValueError(
            f"{where}: {value} looks like a percentage; give a decimal (0.05 means 5 %)"
        )
    return value


def _flat_value(
    variable: str, default: float, environ: Mapping[str, str] | None
) -> float:
    text = _environment(environ).get(variable, "").strip()
    if not text:
        return default
    return _parse_rate(text, f"environment variable {variable}")


def load_rate_curve(path: str | os.PathLike[str]) -> tuple[NDArray[np.datetime64], NDArray[np.float64]]:
    """Read a ``date,rate`` CSV into (sorted dates as datetime64[D], rates as float64).

    Raises ``ValueError`` naming the file and the line for a missing file, a wrong header, an
    unparsable date or rate, a percentage instead of a decimal, a repeated date, or no rows.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ValueError(f"risk-free rate CSV {file}: cannot be read ({error})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or [column.strip().lower() for column in header] != ["date", "rate"]:
        raise ValueError(f"risk-free rate CSV {file}: first line must be the header 'date,rate', got {header}")
    dates: list[np.datetime64] = []
    rates: list[float] = []
    for line_number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        where = f"risk-free rate CSV {file}, line {line_number}"
        if len(row) != 2:
            raise ValueError(f"{where}: expected 2 columns (date,rate), got {len(row)}")
        try:
            day = np.datetime64(row[0].strip(), "D")
        except ValueError:
            raise ValueError(f"{where}: {row[0]!r} is not an ISO date (YYYY-MM-DD)") from None
        if np.isnat(day):
            raise ValueError(f"{where}: empty date")
        dates.append(day)
        rates.append(_parse_rate(row[1].strip(), where))
    if not dates:
        raise ValueError(f"risk-free rate CSV {file}: no data rows")
    date_array = np.array(dates, dtype="datetime64[D]")
    order = np.argsort(date_array, kind="stable")
    date_array = date_array[order]
    rate_array = np.array(rates, dtype=np.float64)[order]
    repeated = date_array[1:][date_array[1:] == date_array[:-1]]
    if repeated.size:
        raise ValueError(f"risk-free rate CSV {file}: date {repeated[0]} appears more than once")
    return date_array, rate_array


def risk_free_rate(
    dates: ArrayLike, *, environ: Mapping[str, str] | None = None
) -> NDArray[np.float64]:
    """Annual continuously compounded risk-free rate (decimal) for each date.

    ``dates`` may be a scalar or an array of ISO strings, ``datetime.date``/``datetime`` or numpy /
    pandas datetimes; the result has the same shape (NaT gives NaN). Source, in order of
    precedence: the CSV named by ``ENRICHMENT_RISK_FREE_RATE_CSV`` (piecewise constant, last
    value carried forward), the flat ``ENRICHMENT_RISK_FREE_RATE``, then ``DEFAULT_RISK_FREE_RATE``.
    ``environ`` replaces ``os.environ`` (for tests and explicit configuration).
    """
    days = calendar_days(dates)
    missing = np.isnat(days)
    csv_path = _environment(environ).get(RISK_FREE_RATE_CSV_ENV, "").strip()
    if not csv_path:
        flat = _flat_value(RISK_FREE_RATE_ENV, DEFAULT_RISK_FREE_RATE, environ)
        return np.where(missing, np.nan, flat)[()]

    curve_dates, curve_rates = load_rate_curve(csv_path)
    # Index of the last curve date on or before each requested date.
    position = np.searchsorted(curve_dates, days, side="right") - 1
    too_early = ~missing & (position < 0)
    if np.any(too_early):
        earliest_request = days[too_early].min()
        raise ValueError(
            f"risk-free rate CSV {csv_path}: starts on {curve_dates[0]}, but a rate is needed for "
            f"{earliest_request}; add earlier rows to the file"
        )
    rates = curve_rates[np.clip(position, 0, None)]
    return np.where(missing, np.nan, rates)[()]


def dividend_yield(
    dates: ArrayLike, *, environ: Mapping[str, str] | None = None
) -> NDArray[np.float64]:
    """Annual continuously compounded dividend yield (decimal) for each date.

    Flat: ``ENRICHMENT_DIVIDEND_YIELD`` if set, else ``DEFAULT_DIVIDEND_YIELD`` (0.0). Same input
    and output shapes as ``risk_free_rate``.
    """
    days = calendar_days(dates)
    flat = _flat_value(DIVIDEND_YIELD_ENV, DEFAULT_DIVIDEND_YIELD, environ)
    return np.where(np.isnat(days), np.nan, flat)[()]
