"""Technical indicators on many symbols at once (pure numpy / pandas / scipy, no Dagster).

Input layout
------------
Every public function takes a long frame with columns ``symbol``, ``date``, ``close``
sorted by symbol, then date (each symbol in one contiguous block, dates strictly increasing
inside a block). Closes must already be split-adjusted by the caller (see
:mod:`enrichment_pipeline.analytics.adjustments`): a raw 2-for-1 split would look like a 50 %
crash to every indicator here. Closes must be finite and positive.

All indicators are computed independently per symbol: nothing crosses a symbol boundary and
every indicator is NaN during each symbol's warm-up (a symbol with fewer rows than the
warm-up is NaN throughout).

Definitions (``x`` = close)
---------------------------
``ma_N``          simple moving average of the last N closes (``talib.SMA``).
``ema_N``         TA-Lib's EMA (``talib.EMA``, default compatibility): k = 2/(N+1); the first
                  value, at the N-th row, is the SMA of the first N closes; then
                  ``ema[t] = ema[t-1] + k·(x[t] − ema[t-1])``. NaN before the N-th row.
``rsi_14``        Wilder's RSI exactly as ``talib.RSI(timeperiod=14)`` with TA-Lib's default
                  settings (unstable period 0, classic not Metastock): gains/losses are close
                  differences; the first average gain/loss is the plain mean of the first 14
                  differences (first value at row 15, index 14), then Wilder smoothing
                  ``avg = (avg·13 + today)/14``; RSI = 100·avgGain/(avgGain+avgLoss), and 0
                  when avgGain+avgLoss < 1e-14 (TA-Lib's ``TA_IS_ZERO``).
``bb_*_20``       ``talib.BBANDS(timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)``: middle =
                  SMA20; upper/lower = middle ± 2·σ with σ the *population* standard deviation
                  (ddof=0) of the same 20 closes; σ is 0 when its variance is < 1e-14
                  (TA-Lib's ``TA_IS_ZERO_OR_NEG``) or the 20 closes are all equal.
``volatility_20`` annualised realised volatility as a decimal (0.25 = 25 %): standard
                  deviation of close-to-close log returns ``ln(x[t]/x[t-1])`` over a window of
                  20 returns (21 closes), sample (ddof=1) by default, × sqrt(periods_per_year)
                  (252 for daily bars, 52 for weekly). Window, ddof and annualisation are
                  parameters. Equals ``np.log(close).diff().rolling(w).std(ddof) * sqrt(p)``
                  per symbol (exactly 0 for a window of identical returns, like pandas).

How it is fast (and exact per symbol)
-------------------------------------
Windowed sums run over the whole concatenated array at once, with no per-symbol Python loop:
each symbol's values are turned into 64-bit fixed point with a power-of-two scale derived from
that symbol alone (about 56 significant bits), prefix sums are taken in integer arithmetic and
a window sum is the difference of two prefix sums. Integer addition is associative and
wrap-around is harmless for a difference, so every window sum is exact for the quantised
values: no drift along long histories, precision independent of how many rows or symbols are
in the batch, and a symbol's results are bit-for-bit the same whether it is computed alone or
with 500 others. (Integer prefix sums are also ~8x faster than float ``cumsum``.)

The recursive indicators (EMA, RSI) run ``scipy.signal.lfilter`` once per indicator over a 2-D
array with one row per symbol (a zero-copy reshape when all symbols have the same length;
otherwise symbols are grouped into buckets of similar length and gathered into padded rows),
so the recursion is never carried from one symbol into the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.signal import lfilter

__all__ = [
    "INDICATOR_COLUMNS",
    "PERIODS_PER_YEAR",
    "SymbolBlocks",
    "compute_indicators",
    "rolling_core",
    "symbol_blocks",
    "to_weekly",
]

#: Output columns of :func:`compute_indicators`, in order (matches ``technical_indicators``).
INDICATOR_COLUMNS = (
    "symbol",
    "date",
    "timeframe",
    "close_adjusted",
    "ma_20",
    "ma_50",
    "ema_12",
    "ema_26",
    "rsi_14",
    "bb_upper_20",
    "bb_middle_20",
    "bb_lower_20",
    "volatility_20",
)

#: Annualisation used when ``periods_per_year`` is not given, by timeframe.
PERIODS_PER_YEAR = {"1d": 252, "1w": 52}

# TA-Lib's zero band (TA_EPSILON in ta_utility.h of the TA-Lib C library bundled with ta-lib 0.8).
_TA_EPSILON = 1e-14
# A computed variance at most this fraction of the window's mean square is re-checked exactly
# for "all values in the window are equal" (then the variance is exactly 0, as in pandas and
# TA-Lib); rounding noise on such windows is ~1e-13 relative, far below this.
_FLAT_CHECK_RELATIVE = 1e-9
# Fixed-point budget: |quantised value| · window < 2**62 leaves a bit of slack below 2**63.
_FIXED_POINT_BITS = 62


# ---------------------------------------------------------------------------------------------
# Symbol blocks


@dataclass(frozen=True, eq=False)
class SymbolBlocks:
    """Where each symbol's contiguous block of rows starts and how long it is."""

    starts: np.ndarray  # int64, first row of each symbol
    lengths: np.ndarray  # int64, rows per symbol
    n_rows: int

    @property
    def n_symbols(self) -> int:
        return len(self.starts)

    def per_row(self, per_symbol: np.ndarray) -> np.ndarray:
        """Broadcast one value per symbol to every row of that symbol."""
        return np.repeat(per_symbol, self.lengths)

    def scale(self, values: np.ndarray, per_symbol: np.ndarray) -> np.ndarray:
        """Multiply every row, in place, by its symbol's factor; returns ``values``."""
        length = self.uniform_length
        if length is not None:
            values.reshape(self.n_symbols, length)[...] *= per_symbol[:, None]
        else:
            values *= self.per_row(per_symbol)
        return values

    def shift(self, values: np.ndarray, per_symbol: np.ndarray) -> np.ndarray:
        """Add to every row, in place, its symbol's offset; returns ``values``."""
        length = self.uniform_length
        if length is not None:
            values.reshape(self.n_symbols, length)[...] += per_symbol[:, None]
        else:
            values += self.per_row(per_symbol)
        return values

    @cached_property
    def uniform_length(self) -> int | None:
        """The common block length if every symbol has the same number of rows."""
        if self.n_symbols and bool((self.lengths == self.lengths[0]).all()):
            return int(self.lengths[0])
        return None


def _symbol_changes(symbols: pd.Series | np.ndarray) -> np.ndarray:
    """Indices i (int64) where row i+1 has a different symbol than row i."""
    values = symbols.array if isinstance(symbols, pd.Series) else symbols
    if len(values) < 2:
        return np.zeros(0, dtype=np.int64)
    if isinstance(values, pd.Categorical):
        codes = values.codes
        if (codes < 0).any():
            raise ValueError("symbol column contains missing values")
        return np.flatnonzero(codes[1:] != codes[:-1])
    if isinstance(values, pd.arrays.ArrowExtensionArray):  # pyarrow-backed (pandas 3 `str`)
        arrow = values.__arrow_array__()
        if arrow.null_count:
            raise ValueError("symbol column contains missing values")
        return pc.indices_nonzero(pc.not_equal(arrow[1:], arrow[:-1])).to_numpy().astype(np.int64)
    values = np.asarray(values)
    if values.dtype == object and pd.isna(values).any():
        raise ValueError("symbol column contains missing values")
    return np.flatnonzero(values[1:] != values[:-1])


def symbol_blocks(symbols: pd.Series | np.ndarray) -> SymbolBlocks:
    """Find the contiguous per-symbol blocks of a column sorted (grouped) by symbol.

    Raises ``ValueError`` if a symbol appears in two separate blocks (input not grouped).
    """
    n = len(symbols)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return SymbolBlocks(empty, empty, 0)
    starts = np.concatenate(([0], _symbol_changes(symbols) + 1)).astype(np.int64)
    lengths = np.diff(np.append(starts, n)).astype(np.int64)
    heads = symbols.iloc[starts] if isinstance(symbols, pd.Series) else np.asarray(symbols)[starts]
    seen: set = set()
    for head in heads:
        if head in seen:
            raise ValueError(
                f"frame must be sorted by symbol then date: symbol {head!r} appears in more than one block"
            )
        seen.add(head)
    return SymbolBlocks(starts, lengths, n)


def _datetime_values(dates: pd.Series | np.ndarray) -> np.ndarray:
    """A date column as naive ``datetime64`` in its own unit (dates, strings and tz-aware
    timestamps are converted; a tz-aware value keeps its wall-clock, i.e. exchange, date)."""
    series = dates if isinstance(dates, pd.Series) else pd.Series(dates)
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series)
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_localize(None)
    values = series.to_numpy()
    if np.isnat(values).any():
        raise ValueError("date column contains missing values")
    return values


def _day_numbers(dates: pd.Series | np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 (int64) of a date column."""
    return _datetime_values(dates).astype("datetime64[D]").view(np.int64)


def _check_dates(keys: np.ndarray, blocks: SymbolBlocks) -> None:
    """``keys``: any int64 encoding of the dates that preserves order."""
    if blocks.n_rows < 2:
        return
    step_ok = keys[1:] > keys[:-1]
    step_ok[blocks.starts[1:] - 1] = True  # a new symbol may restart at any date
    if not step_ok.all():
        bad = int(np.flatnonzero(~step_ok)[0]) + 1
        raise ValueError(
            "frame must be sorted by symbol then date with one row per symbol and date: "
            f"row {bad} does not come after row {bad - 1}"
        )


def _prepare(frame: pd.DataFrame) -> tuple[np.ndarray, SymbolBlocks]:
    """Validate ``frame`` and return its closes (float64) and symbol blocks."""
    missing = {"symbol", "date", "close"} - set(frame.columns)
    if missing:
        raise ValueError(f"frame is missing column(s): {sorted(missing)}")
    close = frame["close"].to_numpy(dtype=np.float64, na_value=np.nan)
    blocks = symbol_blocks(frame["symbol"])
    _check_dates(_datetime_values(frame["date"]).view(np.int64), blocks)
    # min/max propagate NaN, so this also rejects NaN (and +inf via max).
    if close.size and not (close.min() > 0 and close.max() < np.inf):
        bad = int(np.flatnonzero(~(np.isfinite(close) & (close > 0)))[0])
        raise ValueError(f"close must be finite and positive; row {bad} has {float(close[bad])!r}")
    return close, blocks


# ---------------------------------------------------------------------------------------------
# Exact windowed sums


class _FixedPoint:
    """A non-negative float series as int64 with a per-symbol power-of-two scale.

    ``prefix[i]`` is the (wrap-around) integer sum of rows ``0..i-1``, so the sum of rows
    ``j-w+1..j`` is ``prefix[j+1] - prefix[j+1-w]`` — meaningless where the window crosses a
    symbol boundary; callers set those (warm-up) rows to NaN.
    """

    def __init__(self, values: np.ndarray, blocks: SymbolBlocks, max_window: int, *, overwrite: bool = False) -> None:
        """``overwrite=True`` lets the constructor scale ``values`` in place (saves a copy)."""
        headroom = max(1, math.ceil(math.log2(max_window)))
        biggest = np.maximum.reduceat(values, blocks.starts)  # values are >= 0
        _, exponent = np.frexp(biggest)  # biggest < 2**exponent
        shift = np.clip(_FIXED_POINT_BITS - headroom - exponent, -1000, 1000)
        self._blocks = blocks
        self._shift = shift
        # Multiplying by a power of two is exact; the cast below truncates (< 1 unit in ~2**55).
        scaled = blocks.scale(values if overwrite else values.copy(), np.ldexp(1.0, shift))
        self.prefix = np.empty(len(values) + 1, dtype=np.int64)
        self.prefix[0] = 0
        self.prefix[1:] = scaled  # float -> int64 cast (truncation)
        np.cumsum(self.prefix[1:], out=self.prefix[1:])  # integer sums: exact, wrap-around

    def window_sums(self, window: int, divisor: float = 1.0) -> np.ndarray:
        """Length-n float array: window sums / ``divisor`` at rows ``window-1..``, NaN before."""
        out = np.empty(self._blocks.n_rows, dtype=np.float64)
        out[: window - 1] = np.nan
        # Exact (wrap-around safe) integer difference, then converted to float.
        np.subtract(self.prefix[window:], self.prefix[:-window], out=out[window - 1 :])
        return self._blocks.scale(out, np.ldexp(1.0, -self._shift) / divisor)


def _warmup_rows(blocks: SymbolBlocks, count: int) -> np.ndarray:
    """Flat indices of the first ``count`` rows of every symbol (fewer for short symbols)."""
    if count <= 0 or blocks.n_symbols == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.arange(count)
    index = blocks.starts[:, None] + offsets[None, :]
    return index[offsets[None, :] < blocks.lengths[:, None]]


def _mask_warmup(values: np.ndarray, blocks: SymbolBlocks, first_valid_position: int) -> np.ndarray:
    """Set every row whose position inside its symbol is below ``first_valid_position`` to NaN."""
    values[_warmup_rows(blocks, first_valid_position)] = np.nan
    return values


def _flat_windows(values: np.ndarray, rows: np.ndarray, window: int, *, differences: bool = False) -> np.ndarray:
    """For each row in ``rows``: are the ``window`` values ending at that row all equal?

    With ``differences=True`` the values are the first differences ``values[k] - values[k-1]``
    (computed exactly as the caller computed them), e.g. log returns from log prices.
    """
    chunk = 65536
    out = np.zeros(len(rows), dtype=bool)
    span = window + 1 if differences else window
    offsets = np.arange(span - 1, -1, -1)
    for begin in range(0, len(rows), chunk):
        windows = values[rows[begin : begin + chunk, None] - offsets]
        if differences:
            windows = windows[:, 1:] - windows[:, :-1]
        out[begin : begin + chunk] = (windows == windows[:, :1]).all(axis=1)
    return out


def _moving_averages(close: np.ndarray, blocks: SymbolBlocks, windows: tuple[int, ...]) -> dict[int, np.ndarray]:
    n = blocks.n_rows
    fixed = _FixedPoint(close, blocks, max(windows)) if n else None
    out = {}
    for window in windows:
        if window > n:
            out[window] = np.full(n, np.nan)
        else:
            out[window] = _mask_warmup(fixed.window_sums(window, divisor=window), blocks, window - 1)
    return out


def _realised_volatility(
    close: np.ndarray, blocks: SymbolBlocks, window: int, ddof: int, periods_per_year: float
) -> np.ndarray:
    n = blocks.n_rows
    if n <= window:
        return np.full(n, np.nan)
    log_close = np.log(close)
    # Squared log returns; a symbol's first row has none (0 here, masked below anyway).
    work = np.empty(n, dtype=np.float64)
    work[0] = 0.0
    np.subtract(log_close[1:], log_close[:-1], out=work[1:])
    work[blocks.starts] = 0.0
    np.multiply(work, work, out=work)
    # Row t: sum of the squared returns of rows t-window+1..t (valid for rows t >= window).
    variance = _FixedPoint(work, blocks, window, overwrite=True).window_sums(window)
    sum_sq = variance[window:]
    # The sum of the window's returns telescopes to ln x[t] − ln x[t-window].
    correction = np.subtract(log_close[window:], log_close[:-window], out=work[window:])
    np.multiply(correction, correction, out=correction)
    correction /= window
    sum_sq -= correction  # now the sum of squared deviations from the window's mean return
    # Exactly flat windows (e.g. a halted stock) must give 0, not sqrt(rounding noise): windows
    # whose result is tiny relative to their mean square are re-checked exactly.
    correction += sum_sq  # the window's sum of squares again
    correction *= _FLAT_CHECK_RELATIVE
    candidates = np.flatnonzero(sum_sq <= correction)
    if len(candidates):
        rows = candidates + window
        sum_sq[candidates[_flat_windows(log_close, rows, window, differences=True)]] = 0.0
    np.maximum(sum_sq, 0.0, out=sum_sq)
    sum_sq *= periods_per_year / (window - ddof)
    np.sqrt(sum_sq, out=sum_sq)
    return _mask_warmup(variance, blocks, window)


def _check_volatility_parameters(window: int, ddof: int, periods_per_year: float) -> None:
    if int(window) != window or window < 2:
        raise ValueError(f"volatility_window must be an integer >= 2, got {window!r}")
    if int(ddof) != ddof or not 0 <= ddof < window:
        raise ValueError(f"volatility_ddof must be an integer in [0, window), got {ddof!r}")
    if not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year!r}")


def _rolling_core_arrays(
    close: np.ndarray, blocks: SymbolBlocks, volatility_window: int, volatility_ddof: int, periods_per_year: float
) -> dict[str, np.ndarray]:
    averages = _moving_averages(close, blocks, (20, 50))
    return {
        "ma_20": averages[20],
        "ma_50": averages[50],
        "volatility_20": _realised_volatility(close, blocks, volatility_window, volatility_ddof, periods_per_year),
    }


def rolling_core(
    frame: pd.DataFrame,
    *,
    volatility_window: int = 20,
    volatility_ddof: int = 1,
    periods_per_year: float = 252,
) -> pd.DataFrame:
    """``ma_20``, ``ma_50`` and ``volatility_20`` for every row of ``frame`` (same index).

    The flat, loop-free kernel that :func:`compute_indicators` uses for these three columns;
    exposed on its own for the benchmark. See the module docstring for the definitions.
    """
    _check_volatility_parameters(volatility_window, volatility_ddof, periods_per_year)
    close, blocks = _prepare(frame)
    columns = _rolling_core_arrays(close, blocks, volatility_window, volatility_ddof, periods_per_year)
    return pd.DataFrame(columns, index=frame.index, copy=False)


# ---------------------------------------------------------------------------------------------
# Bollinger bands


def _bollinger(close: np.ndarray, ma_20: np.ndarray, blocks: SymbolBlocks) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower bands around ``ma_20`` (TA-Lib BBANDS 20, 2, 2, SMA)."""
    window = 20
    n = blocks.n_rows
    if n < window:
        return np.full(n, np.nan), np.full(n, np.nan)
    # Population variance from squared deviations about the symbol's mean close, c:
    # mean((x-c)²) − (mean(x) − c)², the same value as E[x²] − mean² with far less
    # cancellation when prices are far from zero.
    centre = np.add.reduceat(close, blocks.starts) / blocks.lengths
    squares = blocks.shift(close.copy(), -centre)
    np.multiply(squares, squares, out=squares)
    variance = _FixedPoint(squares, blocks, window, overwrite=True).window_sums(window, divisor=window)
    offset = blocks.shift(ma_20.copy(), -centre)  # NaN on warm-up rows, which stay NaN below
    np.multiply(offset, offset, out=offset)
    variance -= offset
    threshold = np.add(offset, variance, out=offset)  # the window's mean square again
    threshold *= _FLAT_CHECK_RELATIVE
    candidates = np.flatnonzero(variance <= threshold)
    if len(candidates):
        variance[candidates[_flat_windows(close, candidates, window)]] = 0.0
    variance[variance < _TA_EPSILON] = 0.0  # TA_IS_ZERO_OR_NEG → σ = 0
    np.sqrt(variance, out=variance)
    variance *= 2.0
    return ma_20 + variance, ma_20 - variance


# ---------------------------------------------------------------------------------------------
# Recursive indicators on one row per symbol


def _per_symbol_rows(values: np.ndarray, blocks: SymbolBlocks, min_length: int, kernel) -> list[np.ndarray] | None:
    """Run ``kernel`` on a 2-D array with one row per symbol and scatter its outputs back.

    ``kernel(rows) -> tuple of 2-D arrays`` shaped like ``rows``. When every symbol has the same
    length the rows are a zero-copy reshape; otherwise symbols with at least ``min_length`` rows
    are bucketed by ``floor(log2(length))`` (so padding never doubles the work) and gathered
    into padded rows. Past a symbol's end a padded row reads on into the following rows of the
    array (clipped to its end): those cells only ever feed later cells of the same row, which
    are discarded, so a symbol's output depends on its own closes alone. Symbols shorter than
    ``min_length`` are left NaN. Returns None when no symbol is long enough.
    """
    eligible = np.flatnonzero(blocks.lengths >= min_length)
    if len(eligible) == 0:
        return None
    if blocks.uniform_length is not None:
        rows = values.reshape(blocks.n_symbols, blocks.uniform_length)
        return [result.reshape(-1) for result in kernel(rows)]
    outputs: list[np.ndarray] | None = None
    buckets = np.log2(blocks.lengths[eligible]).astype(np.int64)
    for bucket in np.unique(buckets):
        members = eligible[buckets == bucket]
        lengths = blocks.lengths[members]
        columns = np.arange(lengths.max())
        index = blocks.starts[members][:, None] + columns[None, :]
        valid = columns[None, :] < lengths[:, None]
        results = kernel(values[np.minimum(index, blocks.n_rows - 1)])
        if outputs is None:
            outputs = [np.full(blocks.n_rows, np.nan) for _ in results]
        for out, result in zip(outputs, results):
            out[index[valid]] = result[valid]
    return outputs


def _sequential_sum(matrix: np.ndarray, count: int) -> np.ndarray:
    """Row sums of the first ``count`` columns, added left to right (as TA-Lib does)."""
    total = matrix[:, 0].copy()
    for column in range(1, count):
        total += matrix[:, column]
    return total


def _ema_rows(closes: np.ndarray, period: int) -> np.ndarray:
    rows, width = closes.shape
    if width < period:
        return np.full((rows, width), np.nan)
    k = 2.0 / (period + 1)
    # Drive of ema[t] = (1−k)·ema[t−1] + drive[t]: zeros, then the seed (SMA of the first N
    # closes) at column N−1, then k·close.
    drive = closes * k
    drive[:, : period - 1] = 0.0
    drive[:, period - 1] = _sequential_sum(closes, period) / period
    out = lfilter([1.0], [1.0, -(1.0 - k)], drive, axis=1)
    out[:, : period - 1] = np.nan
    return out


def _rsi_rows(closes: np.ndarray, period: int) -> np.ndarray:
    rows, width = closes.shape
    if width <= period:
        return np.full((rows, width), np.nan)
    # drive[0|1, :, t] feeds the average gain|loss at close column t: zeros before column
    # `period`, the seed (mean of the first `period` moves) at `period`, then move/period
    # (Wilder's smoothing: avg[t] = avg[t−1]·(period−1)/period + move[t]/period).
    drive = np.zeros((2, rows, width))
    change = np.subtract(closes[:, 1:], closes[:, :-1])  # change[:, j] = close[j+1] − close[j]
    head = change[:, :period]
    drive[0, :, period] = _sequential_sum(np.maximum(head, 0.0), period) / period
    drive[1, :, period] = _sequential_sum(np.maximum(-head, 0.0), period) / period
    np.maximum(change[:, period:], 0.0, out=drive[0, :, period + 1 :])
    drive[0, :, period + 1 :] /= period
    np.minimum(change[:, period:], 0.0, out=drive[1, :, period + 1 :])
    drive[1, :, period + 1 :] /= -period
    smooth = lfilter([1.0], [1.0, -(period - 1.0) / period], drive, axis=-1)
    gain, total = smooth[0], smooth[1]
    total += gain  # avgGain + avgLoss
    zero = total < _TA_EPSILON  # TA_IS_ZERO → RSI 0
    total[zero] = 1.0
    np.divide(gain, total, out=gain)
    gain *= 100.0
    gain[zero] = 0.0
    gain[:, :period] = np.nan
    return gain


# ---------------------------------------------------------------------------------------------
# Public entry points


def compute_indicators(
    frame: pd.DataFrame,
    *,
    volatility_window: int = 20,
    volatility_ddof: int = 1,
    periods_per_year: float | None = None,
    timeframe: str = "1d",
) -> pd.DataFrame:
    """All ``technical_indicators`` columns for every row of ``frame``.

    ``frame``: columns ``symbol``, ``date``, ``close`` (split-adjusted), sorted by symbol then
    date. Returns the columns of :data:`INDICATOR_COLUMNS` with the input's index, one row per
    input row; ``close_adjusted`` is the input close. ``periods_per_year`` defaults to 252 for
    ``timeframe='1d'`` and 52 for ``'1w'`` (see :data:`PERIODS_PER_YEAR`); pass it explicitly to
    override. Definitions are in the module docstring.
    """
    if timeframe not in PERIODS_PER_YEAR:
        raise ValueError(f"timeframe must be one of {sorted(PERIODS_PER_YEAR)}, got {timeframe!r}")
    if periods_per_year is None:
        periods_per_year = PERIODS_PER_YEAR[timeframe]
    _check_volatility_parameters(volatility_window, volatility_ddof, periods_per_year)
    close, blocks = _prepare(frame)
    n = blocks.n_rows

    core = _rolling_core_arrays(close, blocks, volatility_window, volatility_ddof, periods_per_year)
    upper, lower = _bollinger(close, core["ma_20"], blocks)
    nothing = np.full(n, np.nan)
    ema_12, ema_26 = _per_symbol_rows(
        close, blocks, 12, lambda rows: (_ema_rows(rows, 12), _ema_rows(rows, 26))
    ) or (nothing, nothing.copy())
    (rsi_14,) = _per_symbol_rows(close, blocks, 15, lambda rows: (_rsi_rows(rows, 14),)) or (nothing.copy(),)

    columns = {
        "symbol": frame["symbol"].array,
        "date": frame["date"].array,
        "timeframe": pd.array(pa.repeat(pa.scalar(timeframe, pa.large_string()), n), dtype="str"),
        "close_adjusted": close.copy(),
        "ma_20": core["ma_20"],
        "ma_50": core["ma_50"],
        "ema_12": ema_12,
        "ema_26": ema_26,
        "rsi_14": rsi_14,
        "bb_upper_20": upper,
        "bb_middle_20": core["ma_20"].copy(),
        "bb_lower_20": lower,
        "volatility_20": core["volatility_20"],
    }
    return pd.DataFrame(columns, index=frame.index, copy=False)


def to_weekly(frame: pd.DataFrame) -> pd.DataFrame:
    """Weekly bars from daily ``symbol, date, close`` rows (sorted by symbol then date).

    A week runs Monday to Friday in exchange time (dates are exchange-local session dates).
    Each (symbol, week) becomes one row: the close of the week's last session, dated by that
    session's date — so a week whose Friday is a holiday is dated by its Thursday. Other
    columns of ``frame`` are carried from that last session. The last week of the input may be
    partial (data ending mid-week): its row is dated by the last session seen, and that date
    moves as the week fills in, so a store should replace a symbol's rows for the week rather
    than key them on the date alone.
    """
    missing = {"symbol", "date", "close"} - set(frame.columns)
    if missing:
        raise ValueError(f"frame is missing column(s): {sorted(missing)}")
    blocks = symbol_blocks(frame["symbol"])
    days = _day_numbers(frame["date"])
    _check_dates(days, blocks)
    n = len(frame)
    if n == 0:
        return frame.iloc[0:0].reset_index(drop=True)
    week = (days + 3) // 7  # 1970-01-01 was a Thursday: weeks counted from Monday
    last = np.ones(n, dtype=bool)
    last[:-1] = week[1:] != week[:-1]
    last[blocks.starts[1:] - 1] = True
    return frame.iloc[np.flatnonzero(last)].reset_index(drop=True)
