"""Option-chain helpers: contract selection, ACT/365 year fractions, IV and greeks per row."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from enrichment_pipeline.analytics.option_chain import (
    CHAIN_OUTPUT_COLUMNS,
    UNKNOWN_CONTRACT_TYPE,
    compute_chain_iv,
    select_contracts,
    year_fraction,
)
from enrichment_pipeline.analytics.options import bsm_price, greeks


def test_year_fraction_is_calendar_days_over_365() -> None:
    assert year_fraction("2024-01-02", "2024-02-16") == pytest.approx(45 / 365, rel=1e-15)
    assert year_fraction(dt.date(2024, 1, 2), dt.date(2025, 1, 2)) == pytest.approx(366 / 365, rel=1e-15)
    # Expiration day itself: both at the 16:00 New York close, no time left.
    assert year_fraction("2024-03-15", "2024-03-15") == 0.0
    result = year_fraction(pd.Timestamp("2024-03-08"), ["2024-03-15", "2024-03-01", None])
    np.testing.assert_allclose(result, [7 / 365, -7 / 365, np.nan])


def contracts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": ["expired", "today", "near_atm", "band_low", "band_high", "too_high", "too_far", "edge_day"],
            "expiration_date": ["2024-01-01", "2024-01-02", "2024-01-19", "2024-01-19", "2024-01-19",
                                "2024-01-19", "2024-03-01", "2024-02-01"],
            "strike_price": [100.0, 100.0, 101.0, 90.0, 110.0, 110.5, 100.0, 95.0],
        },
        index=[10, 11, 12, 13, 14, 15, 16, 17],
    )


def test_select_contracts_keeps_window_and_band_inclusive() -> None:
    chosen = select_contracts(contracts(), spot=100.0, as_of_date="2024-01-02", max_days_to_expiry=30,
                              strike_band_pct=10.0)
    # 2024-02-01 is 30 days after 2024-01-02: inside; expired and same-day contracts are dropped.
    assert list(chosen["ticker"]) == ["near_atm", "band_low", "band_high", "edge_day"]
    assert list(chosen.index) == [12, 13, 14, 17]
    assert list(chosen.columns) == ["ticker", "expiration_date", "strike_price"]


def test_select_contracts_accepts_datetime_columns_and_dates() -> None:
    frame = contracts().assign(expiration_date=lambda f: pd.to_datetime(f["expiration_date"]))
    chosen = select_contracts(frame, spot=100.0, as_of_date=dt.date(2024, 1, 2), max_days_to_expiry=30,
                              strike_band_pct=5.0)
    # Strike 95 sits exactly on the −5 % edge and expires exactly 30 days out: kept.
    assert list(chosen["ticker"]) == ["near_atm", "edge_day"]
    fewer_days = select_contracts(frame, spot=100.0, as_of_date=pd.Timestamp("2024-01-02"),
                                  max_days_to_expiry=29, strike_band_pct=5.0)
    assert list(fewer_days["ticker"]) == ["near_atm"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"spot": 0.0}, "spot"),
        ({"spot": float("nan")}, "spot"),
        ({"max_days_to_expiry": 0}, "max_days_to_expiry"),
        ({"strike_band_pct": -1.0}, "strike_band_pct"),
    ],
)
def test_select_contracts_rejects_bad_parameters(arguments: dict, message: str) -> None:
    parameters = {"spot": 100.0, "as_of_date": "2024-01-02", "max_days_to_expiry": 30, "strike_band_pct": 10.0}
    with pytest.raises(ValueError, match=message):
        select_contracts(contracts(), **(parameters | arguments))
    with pytest.raises(ValueError, match="strike_price"):
        select_contracts(contracts().drop(columns="strike_price"), **parameters)


def chain() -> pd.DataFrame:
    spot, t, r, q = 42.0, 0.5, 0.10, 0.0
    call_price = float(bsm_price(spot, 40.0, t, r, q, 0.2, True))
    put_price = float(bsm_price(spot, 45.0, t, r, q, 0.35, False))
    call_intrinsic = spot - 40.0 * np.exp(-r * t)
    return pd.DataFrame(
        {
            "option_close": [call_price, put_price, call_intrinsic - 0.05, 50.0, 1.0, call_price, np.nan],
            "underlying_close": [spot] * 7,
            "strike": [40.0, 45.0, 40.0, 40.0, 40.0, 40.0, 40.0],
            "time_to_expiry_years": [t, t, t, t, 0.0, t, t],
            "risk_free_rate": [r] * 7,
            "dividend_yield": [q] * 7,
            "contract_type": ["call", "Put", "call", "call", "call", "straddle", "put"],
        }
    )


def test_compute_chain_iv_adds_iv_status_and_greeks() -> None:
    frame = chain()
    result = compute_chain_iv(frame)

    assert list(result.columns) == list(frame.columns) + list(CHAIN_OUTPUT_COLUMNS)
    assert list(result["iv_status"]) == [
        "OK", "OK", "BELOW_INTRINSIC", "ABOVE_MAXIMUM", "NON_POSITIVE_INPUT", UNKNOWN_CONTRACT_TYPE,
        "NON_POSITIVE_INPUT",
    ]
    assert result["implied_volatility"].iloc[0] == pytest.approx(0.20, abs=1e-12)
    assert result["implied_volatility"].iloc[1] == pytest.approx(0.35, abs=1e-12)
    expected = greeks(42.0, [40.0, 45.0], 0.5, 0.10, 0.0, [0.2, 0.35], [True, False])
    for name, values in expected._asdict().items():
        np.testing.assert_allclose(result[name].iloc[:2], values, rtol=1e-9)
    unsolved = result.iloc[2:]
    assert unsolved[list(CHAIN_OUTPUT_COLUMNS[:1]) + list(CHAIN_OUTPUT_COLUMNS[2:])].isna().all().all()
    # The input frame is not modified.
    assert "implied_volatility" not in frame.columns


def test_compute_chain_iv_handles_nullable_dtypes_and_empty_frames() -> None:
    frame = chain().astype({"option_close": "Float64", "strike": "Float64"})
    frame.loc[0, "option_close"] = pd.NA
    result = compute_chain_iv(frame)
    assert result["iv_status"].iloc[0] == "NON_POSITIVE_INPUT"
    assert result["iv_status"].iloc[1] == "OK"

    empty = compute_chain_iv(chain().iloc[:0])
    assert len(empty) == 0 and set(CHAIN_OUTPUT_COLUMNS) <= set(empty.columns)


def test_compute_chain_iv_requires_its_columns() -> None:
    with pytest.raises(ValueError, match="risk_free_rate"):
        compute_chain_iv(chain().drop(columns="risk_free_rate"))
