"""Point-in-time split and dividend adjustment factors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from enrichment_pipeline.analytics.adjustments import adjust_prices, adjustment_factors

# Eight NYSE sessions (2024-07-04 is a holiday).
SESSIONS = [dt.date(2024, 7, d) for d in (1, 2, 3, 5, 8, 9, 10, 11)]
NO_SPLITS = pd.DataFrame({"execution_date": [], "split_from": [], "split_to": []})
NO_DIVIDENDS = pd.DataFrame({"ex_dividend_date": [], "cash_amount": []})


def splits(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["execution_date", "split_from", "split_to"])


def dividends(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["ex_dividend_date", "cash_amount"])


def factors_for(closes, split_rows=NO_SPLITS, dividend_rows=NO_DIVIDENDS, sessions=SESSIONS) -> pd.DataFrame:
    return adjustment_factors(sessions, closes, split_rows, dividend_rows)


def adjusted(closes, factors: pd.DataFrame, as_of, column: str | None = None) -> np.ndarray:
    values = factors[column] if column else factors["split_factor"] * factors["dividend_factor"]
    return adjust_prices(SESSIONS, closes, factors["date"], values, as_of)


def test_no_events_gives_unit_factors_and_unchanged_prices():
    closes = [10.0, 11, 12, 13, 14, 15, 16, 17]
    factors = factors_for(closes, None, None)
    assert factors["date"].tolist() == SESSIONS
    assert (factors["split_factor"] == 1.0).all() and (factors["dividend_factor"] == 1.0).all()
    assert np.array_equal(adjusted(closes, factors, SESSIONS[-1]), closes)


def test_two_for_one_split_halves_earlier_prices():
    closes = [100.0, 102, 104, 52, 53, 54, 55, 56]
    factors = factors_for(closes, splits((dt.date(2024, 7, 5), 1, 2)))
    assert factors["split_factor"].tolist() == [1, 1, 1, 0.5, 1, 1, 1, 1]
    result = adjusted(closes, factors, SESSIONS[-1])
    assert result.tolist() == [50.0, 51, 52, 52, 53, 54, 55, 56]


def test_reverse_split_multiplies_earlier_prices():
    closes = [1.0, 1.1, 1.2, 12.5, 12.0, 12.4, 12.2, 12.6]
    factors = factors_for(closes, splits(("2024-07-05", 10, 1)))  # 1-for-10
    assert factors["split_factor"].tolist() == [1, 1, 1, 10, 1, 1, 1, 1]
    np.testing.assert_allclose(adjusted(closes, factors, SESSIONS[-1])[:3], [10.0, 11.0, 12.0], rtol=1e-15)


def test_dividend_uses_previous_close():
    closes = [100.0, 101, 102, 101, 100, 99, 98, 97]
    factors = factors_for(closes, dividend_rows=dividends(("2024-07-05", 1.02)))
    expected = 1 - 1.02 / 102  # CRSP/Yahoo: 1 - D / close of the session before the ex-date
    assert factors["dividend_factor"].tolist() == pytest.approx([1, 1, 1, expected, 1, 1, 1, 1], rel=1e-15)
    result = adjusted(closes, factors, SESSIONS[-1])
    np.testing.assert_allclose(result[:3], np.array(closes[:3]) * expected, rtol=1e-15)
    assert result[2] == pytest.approx(102 - 1.02)  # previous close adjusted to P - D
    assert np.array_equal(result[3:], closes[3:])


def test_events_after_as_of_are_not_applied():
    closes = [100.0, 102, 104, 52, 53, 54, 27.5, 28]
    factors = factors_for(
        closes,
        splits(("2024-07-05", 1, 2), ("2024-07-10", 1, 2)),
        dividends(("2024-07-09", 0.53)),
    )
    total = factors["split_factor"] * factors["dividend_factor"]
    # As of the day before the first split: nothing known yet.
    assert np.array_equal(adjust_prices(SESSIONS, closes, factors["date"], total, "2024-07-03"), closes)
    # As of the first split: only that one.
    as_of_split = adjust_prices(SESSIONS, closes, factors["date"], total, "2024-07-05")
    assert as_of_split.tolist() == [50.0, 51, 52, 52, 53, 54, 27.5, 28]
    # As of the dividend: split and dividend, not the second split.
    div = 1 - 0.53 / 53
    as_of_dividend = adjust_prices(SESSIONS, closes, factors["date"], total, dt.date(2024, 7, 9))
    expected = [50 * div, 51 * div, 52 * div, 52 * div, 53 * div, 54, 27.5, 28]
    np.testing.assert_allclose(as_of_dividend, expected, rtol=1e-15)
    # A date between sessions (weekend) sees what was known by then.
    assert np.array_equal(
        adjust_prices(SESSIONS, closes, factors["date"], total, "2024-07-06"), as_of_split
    )


def test_multiple_events_multiply():
    closes = [100.0, 101, 100, 52, 51, 50, 49, 48]
    factors = factors_for(
        closes,
        splits(("2024-07-05", 1, 2)),
        dividends(("2024-07-05", 0.5), ("2024-07-05", 1.0), ("2024-07-09", 0.51)),
    )
    # Same-day split and dividends: previous close put on the post-split basis (100 * 0.5).
    same_day = (1 - 0.5 / 50) * (1 - 1.0 / 50)
    later = 1 - 0.51 / 51
    assert factors["split_factor"].tolist() == [1, 1, 1, 0.5, 1, 1, 1, 1]
    assert factors["dividend_factor"].tolist() == pytest.approx([1, 1, 1, same_day, 1, later, 1, 1], rel=1e-15)
    result = adjusted(closes, factors, SESSIONS[-1])
    np.testing.assert_allclose(result[:3], np.array(closes[:3]) * 0.5 * same_day * later, rtol=1e-14)
    np.testing.assert_allclose(result[3:5], np.array(closes[3:5]) * later, rtol=1e-14)
    assert np.array_equal(result[5:], closes[5:])
    # Split-only adjustment ignores the dividends.
    assert adjusted(closes, factors, SESSIONS[-1], "split_factor").tolist() == [50.0, 50.5, 50, 52, 51, 50, 49, 48]


def test_split_adjusted_series_is_continuous():
    rng = np.random.default_rng(7)
    sessions = pd.bdate_range("2020-01-02", periods=500)
    true_returns = rng.normal(0, 0.01, 500)
    economic = 400 * np.exp(np.cumsum(true_returns))  # price on today's share basis
    split_day = 300
    raw = economic.copy()
    raw[split_day:] /= 4  # 4-for-1 split executed on session 300
    factors = adjustment_factors(sessions, raw, splits((sessions[split_day], 1, 4)), None)
    result = adjust_prices(sessions, raw, factors["date"], factors["split_factor"], sessions[-1])
    raw_returns = np.diff(np.log(raw))
    adjusted_returns = np.diff(np.log(result))
    assert raw_returns.min() < -1.3  # the raw series shows a fake 75 % crash
    assert np.abs(adjusted_returns).max() < 0.06  # the adjusted one does not
    np.testing.assert_allclose(result, economic / 4, rtol=1e-13)


def test_non_session_event_dates_move_to_the_next_session_and_outside_ones_are_dropped():
    closes = [100.0, 101, 102, 51, 52, 53, 54, 55]
    factors = factors_for(
        closes,
        splits(("2024-07-04", 1, 2), ("2024-06-10", 1, 3), ("2024-08-01", 1, 5)),  # holiday, before, after
    )
    assert factors["split_factor"].tolist() == [1, 1, 1, 0.5, 1, 1, 1, 1]


def test_dividend_without_previous_close_has_factor_one():
    closes = [100.0, np.nan, 102, 101, 100, 99, 98, 97]
    rows = dividends(("2024-07-01", 1.0), ("2024-07-03", 1.0), ("2024-07-05", 1.0))
    factors = factors_for(closes, dividend_rows=rows)
    # First session: no previous close; 07-03: previous close missing; 07-05: normal.
    assert factors["dividend_factor"].tolist() == pytest.approx([1, 1, 1, 1 - 1 / 102, 1, 1, 1, 1], rel=1e-15)


def test_zero_dividend_is_a_no_op():
    closes = [100.0, 101, 102, 101, 100, 99, 98, 97]
    factors = factors_for(closes, dividend_rows=dividends(("2024-07-05", 0.0)))
    assert (factors["dividend_factor"] == 1.0).all()


@pytest.mark.parametrize(
    ("split_rows", "message"),
    [
        (splits(("2024-07-05", -1, 2)), r"split executed 2024-07-05: split_from and split_to must be positive"),
        (splits(("2024-07-05", 1, 0)), r"split_to=0\.0"),
        (splits(("2024-07-05", np.nan, 2)), r"must be positive and finite"),
    ],
)
def test_bad_split_ratio_raises(split_rows, message):
    with pytest.raises(ValueError, match=message):
        factors_for([100.0] * 8, split_rows)


def test_dividend_not_below_previous_close_raises():
    closes = [100.0, 101, 102, 101, 100, 99, 98, 97]
    message = r"ex-date 2024-07-05: cash_amount 102\.0 is not below the previous close 102\.0"
    with pytest.raises(ValueError, match=message):
        factors_for(closes, dividend_rows=dividends(("2024-07-05", 102.0)))
    with pytest.raises(ValueError, match=r"not below the previous close"):
        factors_for(closes, dividend_rows=dividends(("2024-07-08", 500.0)))
    # Same-day 2-for-1 split: 60 is below the raw 102 but not below the comparable 51.
    with pytest.raises(ValueError, match=r"not below the previous close 51\.0"):
        factors_for(closes, splits(("2024-07-05", 1, 2)), dividends(("2024-07-05", 60.0)))


def test_negative_dividend_raises():
    with pytest.raises(ValueError, match=r"cash_amount must be finite and >= 0"):
        factors_for([100.0] * 8, dividend_rows=dividends(("2024-07-05", -0.5)))


def test_input_validation():
    with pytest.raises(ValueError, match="strictly increasing"):
        adjustment_factors(SESSIONS[::-1], [1.0] * 8, None, None)
    with pytest.raises(ValueError, match="closes has 3 values for 8 sessions"):
        adjustment_factors(SESSIONS, [1.0] * 3, None, None)
    with pytest.raises(ValueError, match="missing column"):
        adjustment_factors(SESSIONS, [1.0] * 8, pd.DataFrame({"execution_date": []}), None)
    with pytest.raises(ValueError, match="factors_dates must be strictly increasing"):
        adjust_prices(SESSIONS, [1.0] * 8, SESSIONS[::-1], [1.0] * 8, SESSIONS[-1])
    with pytest.raises(ValueError, match="must be positive and finite"):
        adjust_prices(SESSIONS, [1.0] * 8, SESSIONS, [1.0] * 7 + [0.0], SESSIONS[-1])


def test_adjust_prices_is_vectorised_over_long_histories():
    sessions = pd.bdate_range("2000-01-03", periods=6000)
    rng = np.random.default_rng(1)
    factors = np.where(rng.random(6000) < 0.02, rng.uniform(0.98, 0.999, 6000), 1.0)
    prices = rng.uniform(10, 20, 6000)
    as_of = sessions[4000]
    result = adjust_prices(sessions, prices, sessions, factors, as_of)
    # Reference: explicit product per row.
    expected = np.array(
        [prices[i] * np.prod(factors[i + 1 : 4001]) if i < 4000 else prices[i] for i in range(6000)]
    )
    np.testing.assert_allclose(result, expected, rtol=1e-12)
