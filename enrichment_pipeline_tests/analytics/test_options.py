"""Black–Scholes–Merton price, implied volatility and greeks against textbook oracles and identities."""

from __future__ import annotations

import numpy as np
import pytest

from enrichment_pipeline.analytics.options import (
    IV_REASON_NAMES,
    Greeks,
    IVReason,
    bsm_price,
    greeks,
    implied_volatility,
)


def random_market(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """Seeded, realistic-to-wide inputs: moneyness ±70 % in log terms, 1 day to 3 years."""
    spot = rng.uniform(5.0, 800.0, size)
    return {
        "spot": spot,
        "strike": spot * np.exp(rng.uniform(-0.7, 0.7, size)),
        "t": rng.uniform(1.0 / 365.0, 3.0, size),
        "r": rng.uniform(-0.01, 0.10, size),
        "q": rng.uniform(0.0, 0.06, size),
        "sigma": rng.uniform(0.02, 2.0, size),
        "is_call": rng.random(size) < 0.5,
    }


def analytic_vega_per_unit(m: dict[str, np.ndarray]) -> np.ndarray:
    total_vol = m["sigma"] * np.sqrt(m["t"])
    d1 = (np.log(m["spot"] / m["strike"]) + (m["r"] - m["q"]) * m["t"]) / total_vol + 0.5 * total_vol
    return m["spot"] * np.exp(-m["q"] * m["t"]) * np.sqrt(m["t"]) * np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi)


# --- prices ---------------------------------------------------------------------------------


def test_hull_call_and_put_to_two_decimals() -> None:
    call = bsm_price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, True)
    put = bsm_price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, False)
    assert round(float(call), 2) == 4.76
    assert round(float(put), 2) == 0.81


def test_haug_oracles_to_four_decimals() -> None:
    put = bsm_price(100.0, 95.0, 0.5, 0.10, 0.05, 0.20, False)
    call = bsm_price(60.0, 65.0, 0.25, 0.08, 0.0, 0.30, True)
    assert round(float(put), 4) == 2.4648
    assert round(float(call), 4) == 2.1334


def test_put_call_parity_with_dividend_yield() -> None:
    m = random_market(np.random.default_rng(1), 50_000)
    call = bsm_price(m["spot"], m["strike"], m["t"], m["r"], m["q"], m["sigma"], True)
    put = bsm_price(m["spot"], m["strike"], m["t"], m["r"], m["q"], m["sigma"], False)
    forward_minus_strike_pv = m["spot"] * np.exp(-m["q"] * m["t"]) - m["strike"] * np.exp(-m["r"] * m["t"])
    scale = np.maximum(m["spot"], m["strike"])
    assert np.max(np.abs(call - put - forward_minus_strike_pv) / scale) < 1e-14


def test_price_limits_and_invalid_rows() -> None:
    # Zero volatility or zero time: discounted forward intrinsic value.
    assert bsm_price(110.0, 100.0, 1.0, 0.05, 0.0, 0.0, True) == pytest.approx(110.0 - 100.0 * np.exp(-0.05))
    assert bsm_price(90.0, 100.0, 0.0, 0.05, 0.0, 0.3, False) == pytest.approx(10.0)
    assert bsm_price(90.0, 100.0, 0.0, 0.05, 0.0, 0.3, True) == 0.0
    bad = bsm_price([-1.0, 100.0, 100.0, 100.0], [100.0, 0.0, 100.0, 100.0], [1.0, 1.0, -1.0, 1.0], 0.0, 0.0,
                    [0.2, 0.2, 0.2, np.nan], True)
    assert np.isnan(bad).all()


def test_scalar_in_scalar_out_and_broadcasting() -> None:
    scalar = bsm_price(100.0, 100.0, 1.0, 0.0, 0.0, 0.2, True)
    assert np.ndim(scalar) == 0 and isinstance(float(scalar), float)
    grid = bsm_price(100.0, np.array([[90.0], [110.0]]), np.array([0.5, 1.0, 2.0]), 0.01, 0.0, 0.2,
                     np.array([True, False, True]))
    assert grid.shape == (2, 3)
    assert grid[0, 1] == pytest.approx(float(bsm_price(100.0, 90.0, 1.0, 0.01, 0.0, 0.2, False)), rel=1e-15)


def test_is_call_strings_are_rejected() -> None:
    with pytest.raises(TypeError, match="boolean"):
        bsm_price(100.0, 100.0, 1.0, 0.0, 0.0, 0.2, np.array(["call"]))


# --- greeks ---------------------------------------------------------------------------------


def test_hull_greeks_example() -> None:
    # Hull, Options Futures and Other Derivatives: S=49, K=50, r=5 %, σ=20 %, T=20 weeks (0.3846).
    g = greeks(49.0, 50.0, 0.3846, 0.05, 0.0, 0.20, True)
    assert float(bsm_price(49.0, 50.0, 0.3846, 0.05, 0.0, 0.20, True)) == pytest.approx(2.40, abs=0.005)
    assert float(g.delta) == pytest.approx(0.522, abs=5e-4)
    assert float(g.gamma) == pytest.approx(0.066, abs=5e-4)
    assert float(g.vega_per_vol_point) == pytest.approx(12.1 / 100, abs=5e-4)
    assert float(g.theta_per_day) * 365 == pytest.approx(-4.31, abs=5e-3)
    assert float(g.rho_per_rate_point) == pytest.approx(8.91 / 100, abs=5e-5)


def test_greeks_match_finite_differences_of_price() -> None:
    rng = np.random.default_rng(2)
    m = random_market(rng, 20_000)
    m["sigma"] = rng.uniform(0.05, 1.0, m["sigma"].size)
    m["t"] = rng.uniform(0.05, 3.0, m["t"].size)
    s, k, t, r, q, v, c = (m[name] for name in ("spot", "strike", "t", "r", "q", "sigma", "is_call"))
    g = greeks(s, k, t, r, q, v, c)

    # Fourth-order (five-point) central differences, steps chosen where truncation and rounding
    # errors balance.
    def first(function, x, h):
        return (function(x - 2 * h) - 8 * function(x - h) + 8 * function(x + h) - function(x + 2 * h)) / (12 * h)

    def second(function, x, h):
        return (-function(x + 2 * h) + 16 * function(x + h) - 30 * function(x) + 16 * function(x - h)
                - function(x - 2 * h)) / (12 * h * h)

    def price_of_spot(x):
        return bsm_price(x, k, t, r, q, v, c)

    delta_fd = first(price_of_spot, s, 1e-4 * s)
    gamma_fd = second(price_of_spot, s, 3e-4 * s)
    vega_fd = first(lambda x: bsm_price(s, k, t, r, q, x, c), v, 1e-4) / 100
    # Theta is the change as calendar time passes, i.e. as time to expiry shrinks.
    theta_fd = -first(lambda x: bsm_price(s, k, x, r, q, v, c), t, 1e-4) / 365
    rho_fd = first(lambda x: bsm_price(s, k, t, x, q, v, c), r, 1e-4) / 100

    price_scale = np.maximum(s, k)
    assert np.max(np.abs(g.delta - delta_fd)) < 1e-10
    assert np.max(np.abs(g.gamma - gamma_fd) * s) < 1e-6
    assert np.max(np.abs(g.vega_per_vol_point - vega_fd) / price_scale) < 1e-11
    assert np.max(np.abs(g.theta_per_day - theta_fd) / price_scale) < 1e-11
    assert np.max(np.abs(g.rho_per_rate_point - rho_fd) / price_scale) < 1e-11


def test_greeks_shape_units_and_nan_rows() -> None:
    g = greeks([100.0, 100.0, 100.0], 100.0, [1.0, 0.0, 1.0], 0.0, 0.0, [0.2, 0.2, np.nan], [True, True, False])
    assert isinstance(g, Greeks)
    assert set(g._asdict()) == {"delta", "gamma", "vega_per_vol_point", "theta_per_day", "rho_per_rate_point"}
    # ATM, r=q=0, T=1, σ=0.2: vega per 1.00 = S·φ(0.1)·1 ≈ 39.69, so 0.3969 per vol point.
    assert g.vega_per_vol_point[0] == pytest.approx(100 * np.exp(-0.005) / np.sqrt(2 * np.pi) / 100, rel=1e-12)
    assert g.theta_per_day[0] == pytest.approx(-100 * 0.2 * np.exp(-0.005) / np.sqrt(2 * np.pi) / 2 / 365, rel=1e-12)
    for values in g:
        assert np.isfinite(values[0]) and np.isnan(values[1]) and np.isnan(values[2])


# --- implied volatility ---------------------------------------------------------------------


def test_iv_round_trip_on_well_conditioned_inputs() -> None:
    m = random_market(np.random.default_rng(3), 200_000)
    price = bsm_price(m["spot"], m["strike"], m["t"], m["r"], m["q"], m["sigma"], m["is_call"])
    with np.errstate(divide="ignore"):
        sigma_per_price_ulp = np.spacing(price) / analytic_vega_per_unit(m)
    # Subnormal prices have a fixed absolute spacing, so the ulp test alone would admit them.
    well_conditioned = (price > 1e-300) & (sigma_per_price_ulp <= 1e-12)
    assert well_conditioned.sum() > 190_000  # the filter keeps almost every row

    sigma, reason = implied_volatility(price, m["spot"], m["strike"], m["t"], m["r"], m["q"], m["is_call"],
                                       return_reason=True)
    assert np.all(reason[well_conditioned] == IVReason.OK)
    assert np.max(np.abs(sigma[well_conditioned] - m["sigma"][well_conditioned])) <= 1e-10


def test_iv_reprices_every_solved_row_over_a_wide_domain() -> None:
    rng = np.random.default_rng(4)
    size = 200_000
    spot = rng.uniform(1.0, 1000.0, size)
    strike = spot * np.exp(rng.uniform(-3.0, 3.0, size))
    t = np.exp(rng.uniform(np.log(1 / 365 / 24), np.log(30.0), size))
    r, q = rng.uniform(-0.02, 0.15, size), rng.uniform(0.0, 0.1, size)
    sigma_true = np.exp(rng.uniform(np.log(0.005), np.log(5.0), size))
    is_call = rng.random(size) < 0.5
    price = bsm_price(spot, strike, t, r, q, sigma_true, is_call)
    sigma, reason = implied_volatility(price, spot, strike, t, r, q, is_call, return_reason=True)

    assert not np.any(reason == IVReason.NO_CONVERGENCE)
    solved = reason == IVReason.OK
    assert solved.sum() > 80_000
    assert np.all(np.isnan(sigma) == ~solved)
    assert np.all(sigma[solved] > 0)
    repriced = bsm_price(spot, strike, t, r, q, sigma, is_call)
    scale = np.maximum(spot * np.exp(-q * t), strike * np.exp(-r * t))
    assert np.max(np.abs(repriced[solved] - price[solved]) / scale[solved]) < 1e-14


@pytest.mark.parametrize("is_call", [True, False])
def test_below_intrinsic_is_nan_with_reason(is_call: bool) -> None:
    spot, strike, t, r, q = 100.0, 80.0 if is_call else 120.0, 0.5, 0.05, 0.02
    intrinsic = abs(spot * np.exp(-q * t) - strike * np.exp(-r * t))
    prices = np.array([intrinsic - 0.01, intrinsic, 0.5 * intrinsic])
    sigma, reason = implied_volatility(prices, spot, strike, t, r, q, is_call, return_reason=True)
    assert np.isnan(sigma).all()
    assert np.all(reason == IVReason.BELOW_INTRINSIC)


@pytest.mark.parametrize("is_call", [True, False])
def test_above_maximum_is_nan_with_reason(is_call: bool) -> None:
    spot, strike, t, r, q = 100.0, 100.0, 0.5, 0.05, 0.02
    bound = spot * np.exp(-q * t) if is_call else strike * np.exp(-r * t)
    sigma, reason = implied_volatility([bound, bound + 1.0, 1e9], spot, strike, t, r, q, is_call,
                                       return_reason=True)
    assert np.isnan(sigma).all()
    assert np.all(reason == IVReason.ABOVE_MAXIMUM)


def test_non_positive_inputs_are_nan_with_reason() -> None:
    price = [5.0, 5.0, 5.0, 5.0, np.nan, 0.0, -1.0, 5.0, 5.0]
    spot = [100.0, 0.0, 100.0, 100.0, 100.0, 100.0, 100.0, np.inf, 100.0]
    strike = [100.0, 100.0, -5.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0]
    t = [0.0, 1.0, 1.0, -0.5, 1.0, 1.0, 1.0, 1.0, 1.0]
    r = [0.0] * 8 + [np.nan]
    sigma, reason = implied_volatility(price, spot, strike, t, r, 0.0, True, return_reason=True)
    assert np.isnan(sigma).all()
    assert np.all(reason == IVReason.NON_POSITIVE_INPUT)


def test_bad_rows_do_not_change_good_rows() -> None:
    m = random_market(np.random.default_rng(5), 5_000)
    price = bsm_price(m["spot"], m["strike"], m["t"], m["r"], m["q"], m["sigma"], m["is_call"])
    args = [m[name] for name in ("spot", "strike", "t", "r", "q")]
    alone = implied_volatility(price, *args, m["is_call"])

    mixed_price = price.copy()
    bad = np.zeros(price.size, dtype=bool)
    bad[::7] = True
    mixed_price[::7] = np.array([np.nan, -1.0, 0.0, 1e12])[np.arange(bad.sum()) % 4]
    mixed, reason = implied_volatility(mixed_price, *args, m["is_call"], return_reason=True)

    np.testing.assert_array_equal(mixed[~bad], alone[~bad])
    assert np.isnan(mixed[bad]).all()
    assert set(np.unique(reason[bad])) <= {IVReason.NON_POSITIVE_INPUT, IVReason.ABOVE_MAXIMUM}


def test_iv_scalar_inputs_and_hull_oracle() -> None:
    sigma = implied_volatility(4.759422392871532, 42.0, 40.0, 0.5, 0.10, 0.0, True)
    assert np.ndim(sigma) == 0
    assert float(sigma) == pytest.approx(0.20, abs=1e-12)
    sigma, reason = implied_volatility(2.4647876467558, 100.0, 95.0, 0.5, 0.10, 0.05, False, return_reason=True)
    assert float(sigma) == pytest.approx(0.20, abs=1e-10)
    assert int(reason) == IVReason.OK


def test_iv_never_returns_zero_and_keeps_shape() -> None:
    price = np.array([[1e-300, 0.0], [50.0, 3.0]])
    sigma, reason = implied_volatility(price, 100.0, 100.0, 1.0, 0.0, 0.0, [True, False], return_reason=True)
    assert sigma.shape == reason.shape == (2, 2)
    assert not np.any(sigma == 0.0)
    assert reason.dtype == np.int8


def test_iv_at_exact_forward_and_extreme_volatility() -> None:
    # x = ln(F/K) = 0 exactly, and very low / very high total volatility.
    sigma_true = np.array([1e-4, 0.01, 0.3, 3.0, 8.0])
    price = bsm_price(100.0, 100.0, 1.0, 0.03, 0.03, sigma_true, True)
    sigma = implied_volatility(price, 100.0, 100.0, 1.0, 0.03, 0.03, True)
    np.testing.assert_allclose(sigma, sigma_true, rtol=0, atol=1e-10)


def test_reason_names() -> None:
    assert IV_REASON_NAMES[IVReason.OK] == "OK"
    assert {"OK", "BELOW_INTRINSIC", "ABOVE_MAXIMUM", "NON_POSITIVE_INPUT", "NO_CONVERGENCE"} <= set(
        IV_REASON_NAMES.values()
    )


def test_solver_failure_becomes_nan_with_no_convergence(monkeypatch: pytest.MonkeyPatch) -> None:
    from enrichment_pipeline.analytics import options

    def diverging(objective, x, target, half_exp, s, lower, upper, iterations):
        nowhere = np.full_like(s, np.nan)
        return nowhere, np.full_like(s, np.inf), lower, upper

    monkeypatch.setattr(options, "_householder_iterations", diverging)
    sigma, reason = implied_volatility([4.76, 4.76, -1.0], 42.0, 40.0, 0.5, 0.10, 0.0, True, return_reason=True)
    assert np.isnan(sigma).all()
    assert list(reason) == [IVReason.NO_CONVERGENCE, IVReason.NO_CONVERGENCE, IVReason.NON_POSITIVE_INPUT]
