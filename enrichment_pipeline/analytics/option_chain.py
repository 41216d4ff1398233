"""Pure helpers for the historical option-IV asset: pick contracts, time them, solve IV and greeks.

Model: Black–Scholes–Merton for European exercise with a continuous dividend yield
(``analytics.options``). Listed US equity options are American; for calls on non-dividend payers
the two coincide, elsewhere the European IV is the usual approximation (early-exercise premium
not modelled).

Time convention (``year_fraction``): ACT/365 fixed. Prices are daily closes, so the valuation
instant is the 16:00 New York close of ``as_of_date`` and expiry is the 16:00 New York close of
``expiration_date``; the time between them is the whole number of calendar days / 365 (the
hour lost or gained at a daylight-saving change is ignored). A contract on its expiration day
therefore has t = 0 and no implied volatility.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from enrichment_pipeline.analytics.options import (
    IV_REASON_NAMES,
    Greeks,
    greeks,
    implied_volatility,
)
from enrichment_pipeline.analytics.rates import calendar_days

DAYS_PER_YEAR = 365.0
"""ACT/365 fixed: the denominator of ``year_fraction``."""

UNKNOWN_CONTRACT_TYPE = "UNKNOWN_CONTRACT_TYPE"
"""``iv_status`` of a row whose ``contract_type`` is neither 'call' nor 'put' (IV and greeks NaN).
Every other status is a name from ``options.IVReason``."""

CHAIN_INPUT_COLUMNS = (
    "option_close",
    "underlying_close",
    "strike",
    "time_to_expiry_years",
    "risk_free_rate",
    "dividend_yield",
    "contract_type",
)
CHAIN_OUTPUT_COLUMNS = ("implied_volatility", "iv_status", *Greeks._fields)

DateLike = str | _dt.date | np.datetime64 | pd.Timestamp


def year_fraction(as_of_date: ArrayLike, expiration_date: ArrayLike) -> NDArray[np.float64]:
    """Years from the close of ``as_of_date`` to the close of ``expiration_date``, ACT/365.

    Accepts scalars or arrays of dates (ISO strings, ``datetime.date``, numpy/pandas datetimes),
    broadcast together. Negative for an expiration before ``as_of_date``, 0 on the expiration day,
    NaN where a date is missing.
    """
    as_of = calendar_days(as_of_date)
    expiry = calendar_days(expiration_date)
    days = (expiry - as_of).astype("timedelta64[D]")
    result = np.where(np.isnat(days), np.nan, days.astype(np.float64) / DAYS_PER_YEAR)
    return result[()]


def select_contracts(
    contracts_df: pd.DataFrame,
    spot: float,
    as_of_date: DateLike,
    max_days_to_expiry: int,
    strike_band_pct: float,
) -> pd.DataFrame:
    """Contracts worth solving on ``as_of_date``: near expiries and strikes near the spot.

    ``contracts_df`` has Polygon's contract columns ``expiration_date`` (ISO date or datetime) and
    ``strike_price``. Keeps rows that expire after ``as_of_date`` (not expired, and not expiring
    that day, where t = 0) and at most ``max_days_to_expiry`` calendar days after it, with
    ``spot·(1 − strike_band_pct/100) <= strike_price <= spot·(1 + strike_band_pct/100)``;
    ``strike_band_pct`` is in percent (10 means ±10 %), bounds inclusive. Returns a copy with the
    original index and column order.
    """
    missing = {"expiration_date", "strike_price"} - set(contracts_df.columns)
    if missing:
        raise ValueError(f"contracts_df lacks column(s) {sorted(missing)}")
    if not (np.isfinite(spot) and spot > 0):
        raise ValueError(f"spot must be a positive price, got {spot!r}")
    if max_days_to_expiry < 1:
        raise ValueError(f"max_days_to_expiry must be at least 1, got {max_days_to_expiry!r}")
    if not (np.isfinite(strike_band_pct) and strike_band_pct > 0):
        raise ValueError(f"strike_band_pct must be a positive percentage, got {strike_band_pct!r}")

    as_of = calendar_days(as_of_date)
    expiry = calendar_days(contracts_df["expiration_date"].to_numpy())
    days_to_expiry = (expiry - as_of).astype("timedelta64[D]").astype("int64")
    in_window = ~np.isnat(expiry) & (days_to_expiry > 0) & (days_to_expiry <= max_days_to_expiry)

    strikes = contracts_df["strike_price"].to_numpy(dtype=np.float64, na_value=np.nan)
    band = strike_band_pct / 100.0
    # A relative slack of 1e-12 keeps strikes exactly on the band edge despite rounding of spot·(1±band).
    lowest = spot * (1.0 - band) * (1.0 - 1e-12)
    highest = spot * (1.0 + band) * (1.0 + 1e-12)
    in_band = (strikes >= lowest) & (strikes <= highest)
    return contracts_df.loc[in_window & in_band].copy()


def compute_chain_iv(df: pd.DataFrame) -> pd.DataFrame:
    """Add implied volatility, its status and greeks to a chain of option closes.

    Input columns (one row per contract and day): ``option_close`` and ``underlying_close``
    (currency per share), ``strike``, ``time_to_expiry_years`` (see ``year_fraction``),
    ``risk_free_rate`` and ``dividend_yield`` (annual continuously compounded decimals),
    ``contract_type`` ('call' or 'put', any case).

    Returns a copy with added columns: ``implied_volatility`` (annual decimal, NaN where none
    exists), ``iv_status`` (an ``IVReason`` name such as 'OK' or 'BELOW_INTRINSIC', or
    ``UNKNOWN_CONTRACT_TYPE``), and the greeks of ``options.greeks`` at that volatility —
    ``delta``, ``gamma``, ``vega_per_vol_point``, ``theta_per_day``, ``rho_per_rate_point`` — NaN
    wherever the implied volatility is NaN. A bad row never stops the others.
    """
    missing = set(CHAIN_INPUT_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"option chain lacks column(s) {sorted(missing)}")

    def column(name: str) -> NDArray[np.float64]:
        return pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    option_close = column("option_close")
    underlying_close = column("underlying_close")
    strike = column("strike")
    years = column("time_to_expiry_years")
    rate = column("risk_free_rate")
    dividend = column("dividend_yield")
    contract_type = df["contract_type"].astype("string").str.strip().str.lower()
    is_call = (contract_type == "call").fillna(False).to_numpy(dtype=bool)
    known_type = contract_type.isin(["call", "put"]).fillna(False).to_numpy(dtype=bool)

    sigma, reason = implied_volatility(
        option_close, underlying_close, strike, years, rate, dividend, is_call, return_reason=True
    )
    sigma = np.where(known_type, sigma, np.nan)
    status_by_code = np.array([IV_REASON_NAMES[code] for code in sorted(IV_REASON_NAMES)], dtype=object)
    status = np.where(known_type, status_by_code[reason], UNKNOWN_CONTRACT_TYPE)
    sensitivities = greeks(underlying_close, strike, years, rate, dividend, sigma, is_call)

    result = df.copy()
    result["implied_volatility"] = sigma
    result["iv_status"] = pd.array(status, dtype="string")
    for name, values in sensitivities._asdict().items():
        result[name] = values
    return result
