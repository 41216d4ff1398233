"""Indicators against independent oracles: TA-Lib (SMA, EMA, RSI, BBANDS) and pandas (volatility)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import talib

from enrichment_pipeline.analytics.indicators import (
    INDICATOR_COLUMNS,
    compute_indicators,
    rolling_core,
    symbol_blocks,
    to_weekly,
)

RTOL = 1e-9
VALUE_COLUMNS = [c for c in INDICATOR_COLUMNS if c not in ("symbol", "date", "timeframe")]
WARMUP = {  # first valid row of each indicator with default parameters
    "close_adjusted": 0,
    "ma_20": 19,
    "ma_50": 49,
    "ema_12": 11,
    "ema_26": 25,
    "rsi_14": 14,
    "bb_upper_20": 19,
    "bb_middle_20": 19,
    "bb_lower_20": 19,
    "volatility_20": 20,
}


def random_walk(rng: np.random.Generator, n: int, start: float, vol: float = 0.02, drift: float = 0.0003) -> np.ndarray:
    """Geometric random walk of daily closes, rounded to cents like real bars (min 0.01)."""
    closes = start * np.exp(np.cumsum(rng.normal(drift, vol, n)))
    return np.maximum(np.round(closes, 2), 0.01) if start >= 1 else closes


def symbol_frame(symbol: str, closes: np.ndarray, start: str = "2014-01-02") -> pd.DataFrame:
    dates = pd.bdate_range(start, periods=len(closes))
    return pd.DataFrame({"symbol": symbol, "date": dates, "close": closes})


@pytest.fixture(scope="module")
def universe() -> pd.DataFrame:
    """Several symbols of different lengths and price levels, concatenated (sorted)."""
    rng = np.random.default_rng(20240607)
    parts = [
        symbol_frame("AAPL", random_walk(rng, 2520, 180.0)),
        symbol_frame("BRK.A", random_walk(rng, 800, 550_000.0, vol=0.012)),
        symbol_frame("MSFT", random_walk(rng, 1500, 45.0, drift=0.003)),  # ~90x rise: hard for sums
        symbol_frame("PENNY", random_walk(rng, 700, 0.05, vol=0.06)),
        symbol_frame("SHORT", random_walk(rng, 10, 30.0)),  # shorter than every warm-up
        symbol_frame("TSLA", random_walk(rng, 1200, 250.0, vol=0.04, drift=-0.002)),
        symbol_frame("V51", random_walk(rng, 51, 12.0)),
    ]
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def computed(universe: pd.DataFrame) -> pd.DataFrame:
    return compute_indicators(universe)


def talib_reference(closes: np.ndarray) -> dict[str, np.ndarray]:
    upper, middle, lower = talib.BBANDS(closes, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)
    return {
        "ma_20": talib.SMA(closes, timeperiod=20),
        "ma_50": talib.SMA(closes, timeperiod=50),
        "ema_12": talib.EMA(closes, timeperiod=12),
        "ema_26": talib.EMA(closes, timeperiod=26),
        "rsi_14": talib.RSI(closes, timeperiod=14),
        "bb_upper_20": upper,
        "bb_middle_20": middle,
        "bb_lower_20": lower,
    }


def pandas_volatility(closes: pd.Series, window: int = 20, ddof: int = 1, periods: float = 252) -> np.ndarray:
    return (np.log(closes).diff().rolling(window).std(ddof=ddof) * math.sqrt(periods)).to_numpy()


def assert_matches(actual: np.ndarray, expected: np.ndarray, what: str, rtol: float = RTOL) -> None:
    """Same NaN pattern and |a − e| <= rtol·|e| (values at exactly 0 must be exactly 0)."""
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, what
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    assert np.array_equal(nan_a, nan_e), f"{what}: NaN pattern differs at rows {np.flatnonzero(nan_a != nan_e)[:10]}"
    a, e = actual[~nan_e], expected[~nan_e]
    error = np.abs(a - e)
    bad = error > rtol * np.abs(e)
    assert not bad.any(), (
        f"{what}: {bad.sum()} values off, worst relative error "
        f"{np.max(error / np.maximum(np.abs(e), 1e-300)):.3g} at row {np.flatnonzero(~nan_e)[np.argmax(bad)]}"
    )


# -- oracles --------------------------------------------------------------------------------------


def test_every_indicator_matches_talib_per_symbol(universe, computed):
    assert list(computed.columns) == list(INDICATOR_COLUMNS)
    assert len(computed) == len(universe)
    for symbol, rows in universe.groupby("symbol", sort=False):
        out = computed.loc[rows.index]
        closes = rows["close"].to_numpy()
        for column, expected in talib_reference(closes).items():
            assert_matches(out[column].to_numpy(), expected, f"{symbol} {column}")


def test_volatility_matches_pandas_rolling_std(universe, computed):
    for symbol, rows in universe.groupby("symbol", sort=False):
        expected = pandas_volatility(rows["close"])
        assert_matches(computed.loc[rows.index, "volatility_20"].to_numpy(), expected, f"{symbol} volatility_20")


def test_warm_up_is_nan_and_short_symbol_is_all_nan(universe, computed):
    for symbol, rows in universe.groupby("symbol", sort=False):
        out = computed.loc[rows.index]
        for column, first_valid in WARMUP.items():
            values = out[column].to_numpy()
            assert np.isnan(values[:first_valid]).all(), f"{symbol} {column} warm-up"
            assert not np.isnan(values[first_valid:]).any(), f"{symbol} {column} after warm-up"
    short = computed[computed["symbol"] == "SHORT"]
    assert short[[c for c in VALUE_COLUMNS if c != "close_adjusted"]].isna().all().all()


def test_identity_columns(universe, computed):
    assert computed["symbol"].tolist() == universe["symbol"].tolist()
    assert (computed["date"] == universe["date"]).all()
    assert (computed["timeframe"] == "1d").all()
    assert np.array_equal(computed["close_adjusted"].to_numpy(), universe["close"].to_numpy())
    assert computed.index.equals(universe.index)


def test_columns_fit_the_technical_indicators_table():
    from enrichment_pipeline.storage.schema import technical_indicators

    assert set(INDICATOR_COLUMNS) <= set(technical_indicators.columns.keys())


def test_assert_matches_can_fail():
    """The tolerance check itself must catch an error a thousand times below a cent."""
    expected = np.array([np.nan, 100.0, 101.0])
    assert_matches(expected * (1 + 1e-12), expected, "tiny")
    with pytest.raises(AssertionError):
        assert_matches(expected * (1 + 1e-8), expected, "too big")
    with pytest.raises(AssertionError):
        assert_matches(np.array([1.0, 100.0, 101.0]), expected, "NaN pattern")


# -- hard numerical cases -------------------------------------------------------------------------


def test_flat_prices_give_exact_zero_volatility_and_closed_bands():
    closes = np.concatenate([random_walk(np.random.default_rng(3), 60, 20.0), np.full(40, 23.17)])
    frame = symbol_frame("HALT", closes)
    out = compute_indicators(frame)
    expected_vol = pandas_volatility(frame["close"])
    assert_matches(out["volatility_20"].to_numpy(), expected_vol, "volatility")
    assert (out["volatility_20"].to_numpy()[-20:] == 0.0).all()
    upper, middle, lower = talib.BBANDS(closes, 20, 2, 2, 0)
    assert_matches(out["bb_upper_20"].to_numpy(), upper, "upper")
    assert_matches(out["bb_lower_20"].to_numpy(), lower, "lower")
    assert (out["bb_upper_20"].to_numpy()[-21:] == out["bb_middle_20"].to_numpy()[-21:]).all()
    assert_matches(out["rsi_14"].to_numpy(), talib.RSI(closes, 14), "rsi")  # 0 when flat, like TA-Lib


def test_order_of_magnitude_moves_stay_within_tolerance():
    rng = np.random.default_rng(11)
    up = 0.5 * np.exp(np.linspace(0, math.log(600), 2000) + rng.normal(0, 0.01, 2000))  # 600x rise
    down = up[::-1].copy()  # 600x fall: precision of late, small prices after large early ones
    frame = pd.concat([symbol_frame("DOWN", down), symbol_frame("UP", up)], ignore_index=True)
    out = compute_indicators(frame)
    for symbol, closes in (("DOWN", down), ("UP", up)):
        rows = out[out["symbol"] == symbol]
        for column, expected in talib_reference(closes).items():
            assert_matches(rows[column].to_numpy(), expected, f"{symbol} {column}")
        assert_matches(rows["volatility_20"].to_numpy(), pandas_volatility(pd.Series(closes)), f"{symbol} vol")


# -- independence between symbols -----------------------------------------------------------------


def test_changing_one_symbol_does_not_change_another(universe, computed):
    changed = universe.copy()
    aapl = changed["symbol"] == "AAPL"
    changed.loc[aapl, "close"] = changed.loc[aapl, "close"].to_numpy()[::-1] * 37.0
    out = compute_indicators(changed)
    others = ~aapl.to_numpy()
    assert not np.allclose(out.loc[aapl, "ma_20"].dropna(), computed.loc[aapl, "ma_20"].dropna())
    for column in VALUE_COLUMNS:
        # Bit-for-bit: a symbol's values never depend on its neighbours.
        before = computed.loc[others, column].to_numpy()
        assert np.array_equal(out.loc[others, column].to_numpy(), before, equal_nan=True), column


def test_symbol_alone_equals_symbol_in_batch(universe, computed):
    for symbol in ("MSFT", "V51", "PENNY"):
        rows = universe[universe["symbol"] == symbol].reset_index(drop=True)
        alone = compute_indicators(rows)
        batch = computed[computed["symbol"] == symbol].reset_index(drop=True)
        for column in VALUE_COLUMNS:
            assert np.array_equal(alone[column].to_numpy(), batch[column].to_numpy(), equal_nan=True), (symbol, column)


def test_equal_length_symbols_use_the_reshape_path_with_same_results():
    rng = np.random.default_rng(5)
    frames = [symbol_frame(s, random_walk(rng, 300, p)) for s, p in (("A", 10.0), ("B", 4000.0), ("C", 0.9))]
    together = compute_indicators(pd.concat(frames, ignore_index=True))
    for frame in frames:
        alone = compute_indicators(frame)
        mine = together[together["symbol"] == frame["symbol"].iloc[0]]
        for column in VALUE_COLUMNS:
            assert np.array_equal(alone[column].to_numpy(), mine[column].to_numpy(), equal_nan=True), column


@pytest.mark.parametrize("kind", ["category", "object", "str"])
def test_symbol_column_dtypes(universe, computed, kind):
    frame = universe.copy()
    frame["symbol"] = frame["symbol"].astype(kind)
    out = compute_indicators(frame)
    for column in VALUE_COLUMNS:
        assert np.array_equal(out[column].to_numpy(), computed[column].to_numpy(), equal_nan=True), column


# -- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("window", "ddof", "periods"), [(10, 1, 252), (20, 0, 252), (5, 1, 52), (60, 2, 365)])
def test_volatility_parameters(universe, window, ddof, periods):
    out = compute_indicators(universe, volatility_window=window, volatility_ddof=ddof, periods_per_year=periods)
    for symbol, rows in universe.groupby("symbol", sort=False):
        expected = pandas_volatility(rows["close"], window, ddof, periods)
        assert_matches(out.loc[rows.index, "volatility_20"].to_numpy(), expected, f"{symbol} w={window} ddof={ddof}")


def test_weekly_timeframe_annualises_with_52_by_default(universe):
    weekly = to_weekly(universe)
    out = compute_indicators(weekly, timeframe="1w")
    assert (out["timeframe"] == "1w").all()
    explicit = compute_indicators(weekly, timeframe="1w", periods_per_year=52)
    assert np.array_equal(out["volatility_20"].to_numpy(), explicit["volatility_20"].to_numpy(), equal_nan=True)
    for symbol, rows in weekly.groupby("symbol", sort=False):
        expected = pandas_volatility(rows["close"], periods=52)
        assert_matches(out.loc[rows.index, "volatility_20"].to_numpy(), expected, symbol)
        assert_matches(out.loc[rows.index, "ma_20"].to_numpy(), talib.SMA(rows["close"].to_numpy(), 20), symbol)


def test_rolling_core_is_what_compute_indicators_uses(universe, computed):
    core = rolling_core(universe)
    assert list(core.columns) == ["ma_20", "ma_50", "volatility_20"]
    for column in core.columns:
        assert np.array_equal(core[column].to_numpy(), computed[column].to_numpy(), equal_nan=True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"volatility_window": 1},
        {"volatility_window": 2.5},
        {"volatility_ddof": 20},
        {"volatility_ddof": -1},
        {"periods_per_year": 0},
        {"periods_per_year": float("nan")},
        {"timeframe": "1h"},
    ],
)
def test_bad_parameters_raise(universe, kwargs):
    with pytest.raises(ValueError):
        compute_indicators(universe, **kwargs)


# -- input validation -----------------------------------------------------------------------------


def test_unsorted_or_bad_input_raises(universe):
    shuffled = universe.iloc[::-1].reset_index(drop=True)
    with pytest.raises(ValueError, match="sorted by symbol then date"):
        compute_indicators(shuffled)
    interleaved = pd.concat([universe.iloc[:5], universe.iloc[2600:2605], universe.iloc[5:10]], ignore_index=True)
    with pytest.raises(ValueError, match="more than one block"):
        compute_indicators(interleaved)
    duplicated = pd.concat([universe.iloc[:5], universe.iloc[4:6]], ignore_index=True)
    with pytest.raises(ValueError, match="one row per symbol and date"):
        compute_indicators(duplicated)
    for bad in (np.nan, 0.0, -1.0, np.inf):
        broken = universe.copy()
        broken.loc[7, "close"] = bad
        with pytest.raises(ValueError, match="finite and positive"):
            compute_indicators(broken)
    with pytest.raises(ValueError, match="missing column"):
        compute_indicators(universe.drop(columns=["date"]))


def test_empty_and_tiny_frames():
    empty = pd.DataFrame(
        {"symbol": pd.Series(dtype="str"), "date": pd.Series(dtype="datetime64[ns]"), "close": pd.Series(dtype=float)}
    )
    assert compute_indicators(empty).empty
    one = symbol_frame("ONE", np.array([10.0]))
    out = compute_indicators(one)
    assert len(out) == 1 and out[[c for c in VALUE_COLUMNS if c != "close_adjusted"]].isna().all().all()


def test_symbol_blocks():
    blocks = symbol_blocks(pd.Series(["A", "A", "B", "C", "C", "C"]))
    assert blocks.starts.tolist() == [0, 2, 3] and blocks.lengths.tolist() == [2, 1, 3]


def test_python_dates_are_accepted(universe):
    frame = universe[universe["symbol"] == "V51"].copy()
    frame["date"] = [d.date() for d in frame["date"]]
    out = compute_indicators(frame)
    assert_matches(out["ma_20"].to_numpy(), talib.SMA(frame["close"].to_numpy(), 20), "ma_20")


# -- weekly resampling ----------------------------------------------------------------------------


def test_to_weekly_takes_the_last_session_of_each_week():
    # NYSE sessions around Good Friday 2024 (Mar 29 closed) and Christmas 2023, plus a 2nd symbol.
    dates = pd.to_datetime(
        [
            "2023-12-21", "2023-12-22",  # Thu, Fri
            "2023-12-26", "2023-12-27", "2023-12-28", "2023-12-29",  # Christmas Monday closed
            "2024-01-02", "2024-01-03",  # New Year's Day closed; week spans the year boundary
            "2024-03-25", "2024-03-26", "2024-03-27", "2024-03-28",  # Good Friday closed
            "2024-04-01",  # partial last week
        ]
    )
    closes = np.arange(1.0, len(dates) + 1)
    first = pd.DataFrame({"symbol": "AAA", "date": dates, "close": closes})
    second = pd.DataFrame({"symbol": "BBB", "date": dates[:3], "close": [7.0, 8.0, 9.0]})
    weekly = to_weekly(pd.concat([first, second], ignore_index=True))
    assert weekly["symbol"].tolist() == ["AAA"] * 5 + ["BBB"] * 2
    assert [d.strftime("%Y-%m-%d") for d in weekly["date"]] == [
        "2023-12-22", "2023-12-29", "2024-01-03", "2024-03-28", "2024-04-01",
        "2023-12-22", "2023-12-26",
    ]
    assert weekly["close"].tolist() == [2.0, 6.0, 8.0, 12.0, 13.0, 8.0, 9.0]


def test_to_weekly_matches_a_pandas_resample(universe):
    weekly = to_weekly(universe)
    expected = (
        universe.assign(week=universe["date"].dt.to_period("W-SUN"))
        .groupby(["symbol", "week"], sort=False)
        .last()
        .reset_index()
    )
    assert weekly["symbol"].tolist() == expected["symbol"].tolist()
    assert (weekly["date"].to_numpy() == expected["date"].to_numpy()).all()
    assert np.array_equal(weekly["close"].to_numpy(), expected["close"].to_numpy())
    assert (weekly["date"].dt.dayofweek <= 4).all()
