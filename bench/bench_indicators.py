"""Throughput of the indicator kernels on 500 symbols × 10 years of daily closes.

    python bench/bench_indicators.py [--symbols 500] [--sessions 2520] [--repeat 15]

Single-threaded on purpose (thread pools are pinned to 1 before numpy is imported), so the
figures compare algorithms, not core counts. Each line reports rows per second for the best
and the median of ``--repeat`` timed runs (one untimed warm-up run first):

* ``ours rolling_core``  — ma_20 + ma_50 + volatility_20, flat numpy over all symbols at once;
* ``ours compute_indicators`` — every column of ``technical_indicators``;
* ``pandas groupby-rolling`` — the same three with ``groupby(...).rolling(...)``;
* ``TA-Lib SMA(20) per symbol`` — one SMA, a C loop per symbol (the speed anchor);
* ``TA-Lib same three per symbol`` — SMA 20, SMA 50 and STDDEV of log returns per symbol.

Before timing, our output is checked against pandas and TA-Lib (relative 1e-9).
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import talib  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from enrichment_pipeline.analytics.indicators import compute_indicators, rolling_core  # noqa: E402

pa.set_cpu_count(1)
pa.set_io_thread_count(1)


def make_frame(symbols: int, sessions: int, seed: int = 42) -> pd.DataFrame:
    """Geometric random walks (≈32 % annual vol), one block per symbol, sorted by symbol, date."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(5, 500, symbols)[:, None]
    closes = start * np.exp(np.cumsum(rng.normal(0.0002, 0.02, (symbols, sessions)), axis=1))
    dates = pd.bdate_range("2015-01-02", periods=sessions)
    names = np.array([f"SYM{i:04d}" for i in range(symbols)])
    return pd.DataFrame(
        {
            "symbol": pd.array(np.repeat(names, sessions), dtype="str"),
            "date": np.tile(dates.values, symbols),
            "close": closes.ravel(),
        }
    )


def pandas_three(frame: pd.DataFrame) -> pd.DataFrame:
    grouped = frame.groupby("symbol", sort=False)["close"]
    ma_20 = grouped.rolling(20).mean().to_numpy()
    ma_50 = grouped.rolling(50).mean().to_numpy()
    returns = np.log(frame["close"]).groupby(frame["symbol"], sort=False).diff()
    vol = returns.groupby(frame["symbol"], sort=False).rolling(20).std(ddof=1).to_numpy() * math.sqrt(252)
    return pd.DataFrame({"ma_20": ma_20, "ma_50": ma_50, "volatility_20": vol}, index=frame.index)


def symbol_slices(frame: pd.DataFrame) -> list[slice]:
    symbols = frame["symbol"].to_numpy()
    starts = np.flatnonzero(np.r_[True, symbols[1:] != symbols[:-1]])
    ends = np.r_[starts[1:], len(symbols)]
    return [slice(int(s), int(e)) for s, e in zip(starts, ends)]


def talib_sma(close: np.ndarray, slices: list[slice]) -> np.ndarray:
    out = np.empty_like(close)
    for part in slices:
        out[part] = talib.SMA(close[part], timeperiod=20)
    return out


def talib_three(close: np.ndarray, slices: list[slice]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ma_20, ma_50, vol = np.empty_like(close), np.empty_like(close), np.empty_like(close)
    sample = math.sqrt(20 / 19) * math.sqrt(252)  # TA-Lib STDDEV is the population std
    for part in slices:
        x = close[part]
        ma_20[part] = talib.SMA(x, timeperiod=20)
        ma_50[part] = talib.SMA(x, timeperiod=50)
        vol[part] = np.r_[np.nan, talib.STDDEV(np.diff(np.log(x)), timeperiod=20, nbdev=1.0)] * sample
    return ma_20, ma_50, vol


def close_enough(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    nan = np.isnan(expected)
    if not np.array_equal(np.isnan(actual), nan):
        raise SystemExit(f"check failed: {what}: NaN pattern differs")
    error = np.max(np.abs(actual[~nan] - expected[~nan]) / np.abs(expected[~nan]))
    if error > 1e-9:
        raise SystemExit(f"check failed: {what}: relative error {error:.3g}")


def timed(function, repeat: int) -> list[float]:
    function()  # warm-up (allocator, caches, lazy imports)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=2520)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--repeat-slow", type=int, default=5, help="repetitions for the pandas baseline")
    args = parser.parse_args()

    frame = make_frame(args.symbols, args.sessions)
    rows = len(frame)
    close = frame["close"].to_numpy()
    slices = symbol_slices(frame)

    # Correctness first: the fast path must agree with the references on this very data.
    ours = rolling_core(frame)
    reference = pandas_three(frame)
    for column in ("ma_20", "ma_50", "volatility_20"):
        close_enough(ours[column].to_numpy(), reference[column].to_numpy(), f"{column} vs pandas")
    close_enough(ours["ma_20"].to_numpy(), talib_sma(close, slices), "ma_20 vs TA-Lib")

    cases = [
        ("ours rolling_core (ma_20 + ma_50 + volatility_20)", lambda: rolling_core(frame), args.repeat),
        ("ours compute_indicators (all 9 indicator columns)", lambda: compute_indicators(frame), args.repeat),
        ("pandas groupby-rolling (ma_20 + ma_50 + volatility_20)", lambda: pandas_three(frame), args.repeat_slow),
        ("TA-Lib SMA(20) per symbol (one indicator)", lambda: talib_sma(close, slices), args.repeat),
        ("TA-Lib SMA 20 + SMA 50 + STDDEV(log returns) per symbol", lambda: talib_three(close, slices), args.repeat),
    ]
    print(
        f"{args.symbols} symbols x {args.sessions} sessions = {rows:,} rows; single-threaded; "
        f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"TA-Lib {talib.__version__}; {platform.processor() or platform.machine()}"
    )
    print()
    print("| path | best rows/s | median rows/s | best ms | median ms | runs |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, function, repeat in cases:
        times = timed(function, repeat)
        best, median = min(times), statistics.median(times)
        print(
            f"| {name} | {rows / best / 1e6:,.1f} M | {rows / median / 1e6:,.1f} M | "
            f"{best * 1e3:,.1f} | {median * 1e3:,.1f} | {repeat} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
