"""Black–Scholes–Merton pricing, implied volatility and greeks on numpy arrays.

Conventions shared by every function here:

* ``spot`` and ``strike`` are prices in the option's currency (per share).
* ``t`` is time to expiry in years (ACT/365 in this project, see ``option_chain.year_fraction``).
* ``r`` (risk-free rate) and ``q`` (dividend yield) are annual, continuously compounded decimals
  (0.04 means 4 % a year).
* ``sigma`` is the annualised volatility as a decimal (0.20 means 20 %).
* ``is_call`` is a boolean (True = call, False = put).

All arguments broadcast against each other like numpy operands; scalars in give a numpy scalar out.
No Dagster imports: this module is plain numerics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, ndtri

FloatArray = NDArray[np.float64]


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# Work is done in blocks of this many rows so that every temporary is a 32 KiB array. Such small
# blocks are recycled by the C allocator; temporaries of 48 KiB and more were, in a fresh process,
# handed back to the OS and page-faulted in again on every block (glibc's malloc trims and mmaps
# them), which cost more than the arithmetic. Measured for implied_volatility on one core, options/s
# for 20,000 / 100,000 / 1,000,000 options: blocks of 4,096 rows 4.5M / 4.5M / 4.4M; 8,192 rows
# 2.5M / 3.7M / 5.6M; 32,768 rows 2.7M / 2.5M / 6.4M; whole batch 2.0M at 1,000,000.
_BLOCK_ROWS = 4_096


def _flat_inputs(
    numeric: Sequence[ArrayLike], is_call: ArrayLike
) -> tuple[tuple[int, ...], list[FloatArray], NDArray[np.bool_]]:
    """Broadcast the inputs together; return the common shape and contiguous 1-D copies."""
    call_array = np.asarray(is_call)
    # A string column would silently become all-True; pandas object columns of bools are fine.
    if call_array.dtype.kind in "US" or (
        call_array.dtype.kind == "O" and call_array.size and isinstance(call_array.flat[0], str)
    ):
        raise TypeError("is_call must be boolean (True = call, False = put), not strings")
    arrays = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in numeric), call_array.astype(bool)
    )
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a).ravel() for a in arrays]
    return shape, flat[:-1], flat[-1]


def _run_in_blocks(
    block_function: Callable[..., None], inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray]
) -> None:
    size = inputs[0].size
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        for start in range(0, size, _BLOCK_ROWS):
            block = slice(start, start + _BLOCK_ROWS)
            block_function(*(a[block] for a in inputs), *(o[block] for o in outputs))


def _shaped(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    # ``array[()]`` turns a 0-d array into a numpy scalar and leaves other shapes alone.
    return values.reshape(shape)[()]


def _bsm_price_block(
    spot: FloatArray, strike: FloatArray, t: FloatArray, r: FloatArray, q: FloatArray,
    sigma: FloatArray, call_flags: NDArray[np.bool_], price_out: FloatArray,
) -> None:
    call_sign = call_flags * 2.0 - 1.0
    spot_pv = spot * np.exp(-q * t)
    strike_pv = strike * np.exp(-r * t)
    total_vol = sigma * np.sqrt(t)
    d1 = np.log(spot_pv / strike_pv) / total_vol + 0.5 * total_vol
    d2 = d1 - total_vol
    price = call_sign * (spot_pv * ndtr(call_sign * d1) - strike_pv * ndtr(call_sign * d2))
    # Zero total volatility: the option is worth its discounted forward intrinsic value.
    no_time_value = total_vol == 0.0
    if no_time_value.any():
        intrinsic = np.maximum(call_sign * (spot_pv - strike_pv), 0.0)
        price = np.where(no_time_value, intrinsic, price)
    valid = (
        np.isfinite(spot + strike + t + r + q + sigma)
        & (spot > 0.0) & (strike > 0.0) & (t >= 0.0) & (sigma >= 0.0)
    )
    price_out[:] = np.where(valid, price, np.nan)


def bsm_price(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> FloatArray:
    """European option price under Black–Scholes–Merton with a continuous dividend yield.

    Units: ``spot``/``strike`` in currency per share, ``t`` in years, ``r``/``q``/``sigma`` annual
    decimals (continuously compounded); ``is_call`` boolean. Returns the option price in currency
    per share: call S·e^{-qT}·N(d1) − K·e^{-rT}·N(d2), put K·e^{-rT}·N(−d2) − S·e^{-qT}·N(−d1).

    ``t == 0`` or ``sigma == 0`` give the discounted forward intrinsic value
    max(±(S·e^{-qT} − K·e^{-rT}), 0). Rows with ``t < 0``, ``sigma < 0``, ``spot <= 0``,
    ``strike <= 0`` or any NaN / infinite input give NaN.
    """
    shape, columns, call_flags = _flat_inputs((spot, strike, t, r, q, sigma), is_call)
    price = np.empty(columns[0].size)
    _run_in_blocks(_bsm_price_block, [*columns, call_flags], [price])
    return _shaped(price, shape)


# ---------------------------------------------------------------------------------------------
# Greeks
# ---------------------------------------------------------------------------------------------

DAYS_PER_YEAR_FOR_THETA = 365.0
"""Theta is quoted per calendar day: annual theta divided by 365."""


class Greeks(NamedTuple):
    """Analytic BSM sensitivities; every field is an array shaped like the broadcast inputs.

    Units (prices in currency per share):

    * ``delta``: price change per 1.00 change of the underlying price.
    * ``gamma``: change of delta per 1.00 change of the underlying price.
    * ``vega_per_vol_point``: price change for +1 volatility percentage point (σ 0.20 → 0.21),
      i.e. ∂price/∂σ / 100.
    * ``theta_per_day``: price change per calendar day that passes, i.e. ∂price/∂t / 365 with the
      sign of time passing (usually negative for long options).
    * ``rho_per_rate_point``: price change for +1 percentage point of the risk-free rate
      (r 0.04 → 0.05), i.e. ∂price/∂r / 100.
    """

    delta: FloatArray
    gamma: FloatArray
    vega_per_vol_point: FloatArray
    theta_per_day: FloatArray
    rho_per_rate_point: FloatArray


def _greeks_block(
    spot: FloatArray, strike: FloatArray, t: FloatArray, r: FloatArray, q: FloatArray,
    sigma: FloatArray, call_flags: NDArray[np.bool_],
    delta_out: FloatArray, gamma_out: FloatArray, vega_out: FloatArray, theta_out: FloatArray,
    rho_out: FloatArray,
) -> None:
    call_sign = call_flags * 2.0 - 1.0
    sqrt_t = np.sqrt(t)
    total_vol = sigma * sqrt_t
    dividend_discount = np.exp(-q * t)
    spot_pv = spot * dividend_discount
    strike_pv = strike * np.exp(-r * t)
    d1 = np.log(spot_pv / strike_pv) / total_vol + 0.5 * total_vol
    signed_d1 = call_sign * d1
    cdf_d1 = ndtr(signed_d1)  # N(d1) for a call, N(−d1) for a put
    cdf_d2 = ndtr(signed_d1 - call_sign * total_vol)  # N(d2) / N(−d2)
    spot_pv_pdf = spot_pv * np.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI  # S·e^{-qT}·φ(d1)
    signed_strike_term = call_sign * strike_pv * cdf_d2  # ±K·e^{-rT}·N(±d2)
    valid = (
        np.isfinite(spot + strike + t + r + q + sigma)
        & (spot > 0.0) & (strike > 0.0) & (t > 0.0) & (sigma > 0.0)
    )
    nan_if_invalid = np.where(valid, 0.0, np.nan)  # added once per output instead of five selects
    delta_out[:] = call_sign * dividend_discount * cdf_d1 + nan_if_invalid
    gamma_out[:] = spot_pv_pdf / (spot * spot * total_vol) + nan_if_invalid
    vega_out[:] = spot_pv_pdf * sqrt_t * 0.01 + nan_if_invalid
    theta_annual = (
        -0.5 * spot_pv_pdf * sigma / sqrt_t
        - r * signed_strike_term
        + q * call_sign * spot_pv * cdf_d1
    )
    theta_out[:] = theta_annual / DAYS_PER_YEAR_FOR_THETA + nan_if_invalid
    rho_out[:] = signed_strike_term * t * 0.01 + nan_if_invalid


def greeks(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> Greeks:
    """Analytic Black–Scholes–Merton greeks with a continuous dividend yield.

    Inputs in the units of ``bsm_price``. Returns a ``Greeks`` named tuple (``._asdict()`` gives a
    dict) of ``delta`` (per 1.00 of underlying), ``gamma`` (per 1.00 of underlying, per 1.00),
    ``vega_per_vol_point`` (price change for +1 vol point, vega/100), ``theta_per_day`` (per calendar
    day, annual theta/365) and ``rho_per_rate_point`` (price change for +1 rate point, rho/100).

    Rows with ``t <= 0``, ``sigma <= 0`` (including a NaN implied volatility), ``spot <= 0``,
    ``strike <= 0`` or any NaN / infinite input give NaN in every field.
    """
    shape, columns, call_flags = _flat_inputs((spot, strike, t, r, q, sigma), is_call)
    size = columns[0].size
    outputs = [np.empty(size) for _ in Greeks._fields]
    _run_in_blocks(_greeks_block, [*columns, call_flags], outputs)
    return Greeks(*(_shaped(o, shape) for o in outputs))


# ---------------------------------------------------------------------------------------------
# Implied volatility
# ---------------------------------------------------------------------------------------------


class IVReason(IntEnum):
    """Why ``implied_volatility`` did or did not return a volatility for a row.

    The integer codes are what ``implied_volatility(..., return_reason=True)`` returns;
    ``IV_REASON_NAMES`` maps them to these names (the strings stored in ``iv_status`` columns).
    """

    OK = 0
    #: price at or below the discounted intrinsic value max(θ·(S·e^{-qT} − K·e^{-rT}), 0):
    #: no positive volatility reproduces it (a price equal to intrinsic would need σ = 0).
    BELOW_INTRINSIC = 1
    #: price at or above the no-arbitrage upper bound: S·e^{-qT} for a call, K·e^{-rT} for a put.
    ABOVE_MAXIMUM = 2
    #: t <= 0, spot <= 0, strike <= 0, price <= 0, or any input NaN / infinite.
    NON_POSITIVE_INPUT = 3
    #: the solver did not reach its tolerance (a safeguard: not seen on the tested input domains).
    NO_CONVERGENCE = 4


IV_REASON_NAMES: dict[int, str] = {reason.value: reason.name for reason in IVReason}

# The solver works in normalised coordinates (Jäckel's): x = ln(F/K) ≤ 0 (out-of-the-money side),
# s = σ√T (total volatility), b(x, s) = undiscounted OTM call price / √(F·K), which rises from 0
# to its maximum e^{x/2} as s goes from 0 to ∞, convex below the inflection s_c = √(2|x|) and
# concave above it. Everything below is a 1-D array function of (x, b) → s.

_SQRT3 = math.sqrt(3.0)
# Relative change of s in the last iteration below which a row counts as converged. Householder's
# third-order method converges with order four, so the error left after a step of 1e-6 is of order
# 1e-24: far below double precision.
_STEP_TOLERANCE = 1e-6
# Extra one-at-a-time iterations (bisection-safeguarded) for the rare rows not converged after
# the two main iterations; bisection alone halves the bracket this many times.
_MAX_RESCUE_ITERATIONS = 64

# Objective functions of the Householder iteration, one per region of the normalised price curve
# (after P. Jäckel, "Let's be rational", Wilmott 2015): where the price is exponentially small
# the log of the price is close to linear in σ√T; near the maximum the log of the distance to
# the maximum is; in between the price itself is.
_LOWER_LOG = 0
_PLAIN = 1
_UPPER_LOG = 2


def _rational_cubic(
    t: FloatArray,
    h: FloatArray,
    y_left: FloatArray,
    y_right: FloatArray,
    slope_left: FloatArray,
    slope_right: FloatArray,
    control: FloatArray,
) -> FloatArray:
    """Delbourgo–Gregory rational cubic on one interval; ``t`` in [0, 1], ``h`` its width.

    ``control = 3`` is the cubic Hermite; a larger control pulls it towards the chord, which keeps
    the interpolant monotone when ``control >= (slope_left + slope_right) / chord_slope``.
    """
    one_minus_t = 1.0 - t
    t_one_minus_t = t * one_minus_t
    numerator = (
        y_right * t * t * t
        + (control * y_right - h * slope_right) * t * t_one_minus_t
        + (control * y_left + h * slope_left) * t_one_minus_t * one_minus_t
        + y_left * one_minus_t * one_minus_t * one_minus_t
    )
    return numerator / (1.0 + (control - 3.0) * t_one_minus_t)


def _monotone_control(
    fitted: FloatArray, slope_left: FloatArray, slope_right: FloatArray, chord: FloatArray
) -> FloatArray:
    # The fitted control reproduces a known second derivative; the floor keeps the interpolant
    # monotone, which the bracketing of the iteration relies on.
    floor = (slope_left + slope_right) / chord
    control = np.where(np.isfinite(fitted) & (fitted > floor), fitted, floor)
    return np.minimum(control, 1e12)


def _vega_normalised(x_over_s: FloatArray, s: FloatArray) -> FloatArray:
    """d b / d s of the normalised price b(x, s): exp(-(x²/s² + s²/4)/2)/√(2π)."""
    return np.exp(-0.5 * (x_over_s * x_over_s + 0.25 * s * s)) * _INV_SQRT_2PI


def _otm_call_normalised(
    x: FloatArray, s: FloatArray, half_exp: FloatArray, inv_half_exp: FloatArray
) -> FloatArray:
    """b(x, s) = e^{x/2}Φ(x/s + s/2) − e^{-x/2}Φ(x/s − s/2): an OTM call (x ≤ 0) over √(F·K)·DF."""
    x_over_s = x / s
    return half_exp * ndtr(x_over_s + 0.5 * s) - inv_half_exp * ndtr(x_over_s - 0.5 * s)


def _distance_to_maximum(
    x: FloatArray, s: FloatArray, half_exp: FloatArray, inv_half_exp: FloatArray
) -> FloatArray:
    """e^{x/2} − b(x, s), summed from two positive terms so it keeps full relative precision."""
    x_over_s = x / s
    return half_exp * ndtr(-x_over_s - 0.5 * s) + inv_half_exp * ndtr(x_over_s - 0.5 * s)


def _householder_iterations(
    objective: int,
    x: FloatArray,
    target: FloatArray,
    half_exp: FloatArray,
    s: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    iterations: int,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Third-order Householder steps on σ√T for one objective, safeguarded by a bracket.

    ``target`` is the normalised price (``_LOWER_LOG``, ``_PLAIN``) or its distance to the
    maximum (``_UPPER_LOG``). Returns (s, |last change of s|, lower, upper).
    """
    inv_half_exp = 1.0 / half_exp
    log_target = np.log(target) if objective != _PLAIN else None
    last_change = np.full_like(s, np.inf)
    for _ in range(iterations):
        inv_s = 1.0 / s
        x_over_s = x * inv_s
        half_s = 0.5 * s
        tail = ndtr(x_over_s - half_s)
        if objective == _UPPER_LOG:
            value = half_exp * ndtr(-x_over_s - half_s) + inv_half_exp * tail
        else:
            value = half_exp * ndtr(x_over_s + half_s) - inv_half_exp * tail
        vega = np.exp(-0.5 * (x_over_s * x_over_s + half_s * half_s)) * _INV_SQRT_2PI
        x2_over_s3 = x_over_s * x_over_s * inv_s
        # b''/b' and b'''/b' of the normalised price.
        curvature = x2_over_s3 - 0.5 * half_s
        third = curvature * curvature - 3.0 * x2_over_s3 * inv_s - 0.25
        if objective == _PLAIN:
            residual = value - target
            newton = -residual / vega
            gamma, delta = curvature, third
            s_too_high = residual > 0.0
        else:
            residual = np.log(value) - log_target
            log_slope = vega / value if objective == _LOWER_LOG else -vega / value
            newton = -residual / log_slope
            gamma = curvature - log_slope
            delta = third - log_slope * (3.0 * curvature - 2.0 * log_slope)
            s_too_high = residual > 0.0 if objective == _LOWER_LOG else residual < 0.0
        step = newton * (1.0 + 0.5 * gamma * newton) / (1.0 + newton * (gamma + delta * newton / 6.0))
        # s/0 = inf and s·0 = 0 update the bracket without a (slow, unpredictable) masked select.
        too_high = s_too_high.astype(np.float64)
        upper = np.minimum(upper, s / too_high)
        lower = np.maximum(lower, s * (1.0 - too_high))
        s_next = s + step
        outside = ~((s_next >= lower) & (s_next <= upper))
        if outside.any():
            rows = np.flatnonzero(outside)
            lo, hi = lower[rows], upper[rows]
            s_next[rows] = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * lo)
        last_change = np.abs(s_next - s)
        s = s_next
    return s, last_change, lower, upper


def _iterate_until_converged(
    objective: int,
    x: FloatArray,
    target: FloatArray,
    half_exp: FloatArray,
    s: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Two iterations on every row, then single iterations on the rows still moving."""
    s, change, lower, upper = _householder_iterations(
        objective, x, target, half_exp, s, lower, upper, iterations=2
    )
    converged = change <= _STEP_TOLERANCE * s
    pending = np.flatnonzero(~converged)
    for _ in range(_MAX_RESCUE_ITERATIONS):
        if pending.size == 0:
            break
        s_p, change_p, lower_p, upper_p = _householder_iterations(
            objective, x[pending], target[pending], half_exp[pending],
            s[pending], lower[pending], upper[pending], iterations=1,
        )
        s[pending], lower[pending], upper[pending] = s_p, lower_p, upper_p
        done = (change_p <= _STEP_TOLERANCE * s_p) | (upper_p - lower_p <= 1e-14 * s_p)
        converged[pending[done]] = True
        pending = pending[~done]
    converged &= np.isfinite(s) & (s > 0.0)
    return s, converged


def _solve_lower_half(
    x: FloatArray, beta: FloatArray, half_exp: FloatArray, s_c: FloatArray, b_c: FloatArray,
    vega_c: FloatArray,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Rows whose normalised price is below the value at the inflection point s_c = √(2|x|)."""
    inv_half_exp = 1.0 / half_exp
    # Where the tangent at the inflection point reaches zero: splits the convex part in two.
    s_l = s_c - b_c / vega_c
    b_l = _otm_call_normalised(x, s_l, half_exp, inv_half_exp)
    x_over_s_l = x / s_l
    vega_l = _vega_normalised(x_over_s_l, s_l)
    curvature_l = x_over_s_l * x_over_s_l / s_l - 0.25 * s_l

    s = np.empty_like(x)
    converged = np.empty(x.shape, dtype=bool)

    lowest = beta < b_l
    rows = np.flatnonzero(lowest)
    if rows.size:
        # Far below the inflection b(x, s) ≈ f(s) = C·Φ(z)³ with z = x/(√3·s), C = 2π|x|/(3√3);
        # f is inverted in closed form, so interpolate f as a function of the price instead.
        xr, beta_r, sl, vl, cl = x[rows], beta[rows], s_l[rows], vega_l[rows], curvature_l[rows]
        scale = -2.0 * math.pi * xr / (3.0 * _SQRT3)
        z = xr / (_SQRT3 * sl)
        cdf = ndtr(z)
        pdf = np.exp(-0.5 * z * z) * _INV_SQRT_2PI
        dz = -z / sl
        f_l = scale * cdf * cdf * cdf
        df_ds = 3.0 * scale * cdf * cdf * pdf * dz
        d2f_ds2 = 3.0 * scale * (
            2.0 * cdf * pdf * pdf * dz * dz + cdf * cdf * pdf * (-z * dz * dz + 2.0 * z / (sl * sl))
        )
        h = b_l[rows]
        slope_left = np.ones_like(h)  # f(s)/b(x, s) → 1 as s → 0
        slope_right = df_ds / vl
        second_right = (d2f_ds2 - df_ds * cl) / (vl * vl)
        chord = f_l / h
        fitted = (0.5 * h * second_right - slope_left + slope_right) / (slope_right - chord)
        control = _monotone_control(fitted, slope_left, slope_right, chord)
        f_guess = _rational_cubic(beta_r / h, h, np.zeros_like(h), f_l, slope_left, slope_right, control)
        s0 = xr / (_SQRT3 * ndtri(np.cbrt(f_guess / scale)))
        s0 = np.where((s0 > 0.0) & (s0 < sl), s0, 0.5 * sl)
        s[rows], converged[rows] = _iterate_until_converged(
            _LOWER_LOG, xr, beta_r, half_exp[rows], s0, np.zeros_like(s0), sl.copy()
        )

    rows = np.flatnonzero(~lowest)
    if rows.size:
        # Between the zero of the tangent and the inflection: interpolate s(b) directly; s''(b)
        # vanishes at the inflection point.
        beta_r, sl, sc = beta[rows], s_l[rows], s_c[rows]
        b_left, b_right = b_l[rows], b_c[rows]
        h = b_right - b_left
        slope_left = 1.0 / vega_l[rows]
        slope_right = 1.0 / vega_c[rows]
        chord = (sc - sl) / h
        fitted = (slope_right - slope_left) / (slope_right - chord)
        control = _monotone_control(fitted, slope_left, slope_right, chord)
        s0 = _rational_cubic((beta_r - b_left) / h, h, sl, sc, slope_left, slope_right, control)
        s0 = np.where((s0 >= sl) & (s0 <= sc), s0, 0.5 * (sl + sc))
        s[rows], converged[rows] = _iterate_until_converged(
            _PLAIN, x[rows], beta_r, half_exp[rows], s0, sl.copy(), sc.copy()
        )
    return s, converged


def _solve_upper_half(
    x: FloatArray, beta: FloatArray, half_exp: FloatArray, s_c: FloatArray, b_c: FloatArray,
    vega_c: FloatArray,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Rows whose normalised price is at or above the value at the inflection point."""
    inv_half_exp = 1.0 / half_exp
    distance_beta = half_exp - beta
    # Where the tangent at the inflection point reaches the maximum e^{x/2}.
    s_u = s_c + (half_exp - b_c) / vega_c
    distance_u = _distance_to_maximum(x, s_u, half_exp, inv_half_exp)
    x_over_s_u = x / s_u
    vega_u = _vega_normalised(x_over_s_u, s_u)
    curvature_u = x_over_s_u * x_over_s_u / s_u - 0.25 * s_u

    s = np.empty_like(x)
    converged = np.empty(x.shape, dtype=bool)

    highest = distance_beta < distance_u
    rows = np.flatnonzero(~highest)
    if rows.size:
        # Between the inflection point and the tangent's meeting with the maximum; s''(b) = 0 at
        # the inflection point.
        beta_r, sc, su = beta[rows], s_c[rows], s_u[rows]
        b_left = b_c[rows]
        h = (half_exp[rows] - distance_u[rows]) - b_left
        slope_left = 1.0 / vega_c[rows]
        slope_right = 1.0 / vega_u[rows]
        chord = (su - sc) / h
        fitted = (slope_right - slope_left) / (chord - slope_left)
        control = _monotone_control(fitted, slope_left, slope_right, chord)
        s0 = _rational_cubic((beta_r - b_left) / h, h, sc, su, slope_left, slope_right, control)
        s0 = np.where((s0 >= sc) & (s0 <= su), s0, 0.5 * (sc + su))
        s[rows], converged[rows] = _iterate_until_converged(
            _PLAIN, x[rows], beta_r, half_exp[rows], s0, sc.copy(), su.copy()
        )

    rows = np.flatnonzero(highest)
    if rows.size:
        # Near the maximum e^{x/2} − b(x, s) ≈ 2·Φ(−s/2): interpolate f(s) = Φ(−s/2) as a function
        # of the price, from the tangent point to the maximum (where df/db = −1/2), and invert f.
        su, vu, cu, du = s_u[rows], vega_u[rows], curvature_u[rows], distance_u[rows]
        f_u = ndtr(-0.5 * su)
        pdf = np.exp(-0.125 * su * su) * _INV_SQRT_2PI
        df_ds = -0.5 * pdf
        d2f_ds2 = 0.125 * su * pdf
        h = du
        slope_left = df_ds / vu
        slope_right = np.full_like(h, -0.5)
        second_left = (d2f_ds2 - df_ds * cu) / (vu * vu)
        chord = -f_u / h
        fitted = (0.5 * h * second_left + slope_right - slope_left) / (chord - slope_left)
        control = _monotone_control(fitted, slope_left, slope_right, chord)
        t = (du - distance_beta[rows]) / du
        f_guess = _rational_cubic(t, h, f_u, np.zeros_like(h), slope_left, slope_right, control)
        s0 = -2.0 * ndtri(f_guess)
        s0 = np.where(np.isfinite(s0) & (s0 > su), s0, 2.0 * su)
        s[rows], converged[rows] = _iterate_until_converged(
            _UPPER_LOG, x[rows], distance_beta[rows], half_exp[rows], s0, su.copy(),
            np.full_like(s0, np.inf),
        )
    return s, converged


def _solve_total_volatility(
    x: FloatArray, beta: FloatArray
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """σ√T such that b(x, σ√T) = beta, for x ≤ 0 and 0 < beta < e^{x/2} (1-D arrays)."""
    half_exp = np.exp(0.5 * x)
    s_c = np.sqrt(-2.0 * x)
    # At the inflection point d1 = 0 and d2 = −s_c, so b_c needs a single normal CDF.
    b_c = 0.5 * half_exp - ndtr(-s_c) / half_exp
    vega_c = half_exp * _INV_SQRT_2PI
    s = np.empty_like(x)
    converged = np.empty(x.shape, dtype=bool)
    below_inflection = beta < b_c
    for rows, solve_half in (
        (np.flatnonzero(below_inflection), _solve_lower_half),
        (np.flatnonzero(~below_inflection), _solve_upper_half),
    ):
        if rows.size:
            s[rows], converged[rows] = solve_half(
                x[rows], beta[rows], half_exp[rows], s_c[rows], b_c[rows], vega_c[rows]
            )
    return s, converged


def _implied_volatility_block(
    price: FloatArray,
    spot: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    r: FloatArray,
    q: FloatArray,
    call_flags: NDArray[np.bool_],
    sigma_out: FloatArray,
    reason_out: NDArray[np.int8],
) -> None:
    """Solve one block of 1-D rows, writing σ and the reason code into the output views."""
    valid = (
        np.isfinite(price + spot + strike + t + r + q)
        & (price > 0.0) & (spot > 0.0) & (strike > 0.0) & (t > 0.0)
    )
    sigma_out.fill(np.nan)
    reason_out.fill(IVReason.NON_POSITIVE_INPUT)
    rows = None if valid.all() else np.flatnonzero(valid)
    if rows is not None:
        if rows.size == 0:
            return
        price, spot, strike, t, r, q, call_flags = (
            a[rows] for a in (price, spot, strike, t, r, q, call_flags)
        )
    spot_pv = spot * np.exp(-q * t)  # S·e^{-qT}: present value of the share delivered at expiry
    strike_pv = strike * np.exp(-r * t)  # K·e^{-rT}
    upper_bound = np.where(call_flags, spot_pv, strike_pv)
    call_intrinsic_pv = spot_pv - strike_pv
    intrinsic_pv = np.maximum(np.where(call_flags, call_intrinsic_pv, -call_intrinsic_pv), 0.0)
    # Put–call parity turns every row into an out-of-the-money call on the forward F with
    # x = −|ln(F/K)| and normalised time value b = (price − intrinsic)/(e^{-rT}·√(F·K)).
    x = -np.abs(np.log(spot_pv / strike_pv))
    beta = (price - intrinsic_pv) / np.sqrt(spot_pv * strike_pv)
    normalised_maximum = np.exp(0.5 * x)

    reason = np.full(price.size, IVReason.NO_CONVERGENCE, dtype=np.int8)
    # The normalised comparisons catch prices that pass the price-space test only by rounding.
    above = (price >= upper_bound) | (beta >= normalised_maximum)
    below = ~above & (beta <= 0.0)
    solvable = ~(above | below)
    sigma = np.full(price.size, np.nan)
    if solvable.all():
        total_vol, converged = _solve_total_volatility(x, beta)
        sigma = total_vol / np.sqrt(t)
    else:
        reason[above] = IVReason.ABOVE_MAXIMUM
        reason[below] = IVReason.BELOW_INTRINSIC
        solve_rows = np.flatnonzero(solvable)
        total_vol, converged_rows = _solve_total_volatility(x[solve_rows], beta[solve_rows])
        sigma[solve_rows] = total_vol / np.sqrt(t[solve_rows])
        converged = np.zeros(price.size, dtype=bool)
        converged[solve_rows] = converged_rows
    reason[converged] = IVReason.OK
    sigma[~converged] = np.nan

    if rows is None:
        sigma_out[:], reason_out[:] = sigma, reason
    else:
        sigma_out[rows], reason_out[rows] = sigma, reason


def implied_volatility(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
    *,
    return_reason: bool = False,
) -> FloatArray | tuple[FloatArray, NDArray[np.int8]]:
    """Black–Scholes–Merton implied volatility (annual decimal) of European option prices.

    Units as in ``bsm_price``: ``price``, ``spot``, ``strike`` in currency per share, ``t`` in years,
    ``r`` and ``q`` annual continuously compounded decimals. Returns σ as an annual decimal.

    Rows without an implied volatility get NaN (never 0) and never raise; the rest of the batch is
    solved. With ``return_reason=True`` returns ``(sigma, reason)`` where ``reason`` holds
    ``IVReason`` codes (int8; names in ``IV_REASON_NAMES``), decided in this order:
    NON_POSITIVE_INPUT, ABOVE_MAXIMUM, BELOW_INTRINSIC, then the solver's OK / NO_CONVERGENCE.

    Method: put–call parity reduces every row to an out-of-the-money call on the forward, normalised
    to b = (price − discounted intrinsic) / (e^{-rT}·√(F·K)) with x = −|ln(F/K)|, leaving only the
    total volatility s = σ√T to find. A rational-cubic initial guess in transformed coordinates
    (after the published construction of P. Jäckel, "Let's be rational", 2015) is followed by two
    third-order Householder steps on a region-dependent objective, safeguarded by a bracket; the
    rare rows still moving get further single steps. On well-conditioned inputs (one ulp of the
    price moves σ by at most 1e-12) σ is recovered to about 1e-13 or better.
    """
    shape, columns, call_flags = _flat_inputs((price, spot, strike, t, r, q), is_call)
    size = columns[0].size
    sigma = np.empty(size)
    reason = np.empty(size, dtype=np.int8)
    _run_in_blocks(_implied_volatility_block, [*columns, call_flags], [sigma, reason])
    if return_reason:
        return _shaped(sigma, shape), _shaped(reason, shape)
    return _shaped(sigma, shape)
