"""Throughput and accuracy of ``analytics.options`` on one core, side by side with py_vollib_vectorized.

Run from the repository root:

    python bench/bench_options.py                # 1,000,000 options, 7 repetitions
    python bench/bench_options.py --size 200000 --repeats 3

Prints options/s (best and median of the repetitions) for ``implied_volatility`` and ``greeks``
(all five), then the same for py_vollib_vectorized — its numba kernel and its public API — on the
same inputs, the ratio ours/theirs, and the maximum absolute σ error of both.

py_vollib_vectorized is a benchmark-only extra, not a dependency of the project:

    pip install py_vollib_vectorized py_vollib==1.0.1 py_lets_be_rational==1.0.1

Without it the peer part is skipped with a note.
"""

from __future__ import annotations

import os

# One core: thread pools are sized when numpy / numba load, so this must come before the imports.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_variable] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from enrichment_pipeline.analytics.options import (  # noqa: E402
    IVReason,
    bsm_price,
    greeks,
    implied_volatility,
)


def make_inputs(size: int, seed: int) -> dict[str, np.ndarray]:
    """Equity-like options: log-moneyness ±0.7, 1 day to 3 years, σ 3 %–150 %, calls and puts."""
    rng = np.random.default_rng(seed)
    spot = rng.uniform(20.0, 500.0, size)
    m = {
        "spot": spot,
        "strike": spot * np.exp(rng.uniform(-0.7, 0.7, size)),
        "t": rng.uniform(1.0 / 365.0, 3.0, size),
        "r": rng.uniform(-0.01, 0.08, size),
        "q": rng.uniform(0.0, 0.05, size),
        "sigma": rng.uniform(0.03, 1.5, size),
        "is_call": rng.random(size) < 0.5,
    }
    m["price"] = bsm_price(m["spot"], m["strike"], m["t"], m["r"], m["q"], m["sigma"], m["is_call"])
    total_vol = m["sigma"] * np.sqrt(m["t"])
    d1 = np.log(m["spot"] / m["strike"]) / total_vol + ((m["r"] - m["q"]) * m["t"]) / total_vol + 0.5 * total_vol
    vega = m["spot"] * np.exp(-m["q"] * m["t"]) * np.sqrt(m["t"]) * np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi)
    with np.errstate(divide="ignore", over="ignore"):
        # Where one ulp of the price moves σ by at most 1e-12: σ is recoverable to that accuracy.
        m["well_conditioned"] = (m["price"] > 1e-300) & (np.spacing(m["price"]) / vega <= 1e-12)
    return m


def time_runs(function: Callable[[], object], repeats: int) -> list[float]:
    function()  # warm-up: caches, allocator, JIT
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return seconds


def report(label: str, size: int, seconds: list[float]) -> float:
    best = size / min(seconds)
    median = size / statistics.median(seconds)
    print(f"  {label:<46} best {best / 1e6:7.2f} M options/s   median {median / 1e6:7.2f} M options/s"
          f"   ({min(seconds) * 1e3:.1f} ms best)")
    return best


def accuracy(label: str, sigma: np.ndarray, m: dict[str, np.ndarray]) -> None:
    well = m["well_conditioned"]
    error = np.abs(sigma - m["sigma"])
    missing = int(np.isnan(sigma[well]).sum())
    print(f"  {label:<46} max |σ − σ_true| {np.nanmax(error[well]):.2e} on {int(well.sum()):,} well-conditioned rows"
          f" (NaN on {missing:,} of them); median {np.nanmedian(error[well]):.1e}")
    # Independent of how well σ is determined by the price: does σ reproduce the price it came from?
    repriced = bsm_price(m["spot"], m["strike"], m["t"], m["r"], m["q"], sigma, m["is_call"])
    scale = np.maximum(m["spot"] * np.exp(-m["q"] * m["t"]), m["strike"] * np.exp(-m["r"] * m["t"]))
    solved = np.isfinite(sigma)
    worst_repricing = np.max(np.abs(repriced - m["price"])[solved] / scale[solved])
    print(f"  {'':<46} max |price(σ) − price| / max(S·e^(-qT), K·e^(-rT)) {worst_repricing:.1e}"
          f" over {int(solved.sum()):,} rows with a σ; σ = 0 returned on {int((sigma == 0).sum()):,} rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000, help="options per call (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repetitions (default 7)")
    parser.add_argument("--seed", type=int, default=20240102)
    arguments = parser.parse_args()
    size, repeats = arguments.size, arguments.repeats

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(f"machine: {os.cpu_count()} cores, pinned to CPU {cpus}; {platform.processor() or platform.machine()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}")
    print(f"inputs: {size:,} options, seed {arguments.seed}, {repeats} timed repetitions after one warm-up\n")

    m = make_inputs(size, arguments.seed)
    args = (m["spot"], m["strike"], m["t"], m["r"], m["q"])

    print("enrichment_pipeline.analytics.options")
    ours_iv = report("implied_volatility", size,
                     time_runs(lambda: implied_volatility(m["price"], *args, m["is_call"]), repeats))
    ours_greeks = report("greeks (delta, gamma, vega, theta, rho)", size,
                         time_runs(lambda: greeks(*args, m["sigma"], m["is_call"]), repeats))
    sigma_ours, reason = implied_volatility(m["price"], *args, m["is_call"], return_reason=True)
    accuracy("implied_volatility", sigma_ours, m)
    counts = {IVReason(code).name: int((reason == code).sum()) for code in np.unique(reason)}
    print(f"  reasons: {counts}\n")

    try:
        import numba
        import py_vollib_vectorized
        from py_vollib_vectorized import _iv_models
        from py_vollib_vectorized.api import get_all_greeks
        from py_vollib_vectorized.implied_volatility import vectorized_implied_volatility
    except ImportError as error:
        print(f"NOTE: py_vollib_vectorized is not importable ({error}); peer comparison skipped.\n"
              "      pip install py_vollib_vectorized py_vollib==1.0.1 py_lets_be_rational==1.0.1")
        return

    version = getattr(py_vollib_vectorized, "__version__", None)
    if version is None:
        from importlib.metadata import version as package_version
        version = package_version("py_vollib_vectorized")
    print(f"py_vollib_vectorized {version} (numba {numba.__version__})")
    flags = np.where(m["is_call"], "c", "p")
    flag_signs = np.where(m["is_call"], 1.0, -1.0)
    forward = m["spot"] * np.exp((m["r"] - m["q"]) * m["t"])
    undiscounted = m["price"] / np.exp(-m["r"] * m["t"])

    def peer_kernel() -> np.ndarray:
        return np.asarray(_iv_models.implied_volatility_from_a_transformed_rational_guess(
            undiscounted, forward, m["strike"], m["t"], flag_signs))

    def peer_api() -> np.ndarray:
        return vectorized_implied_volatility(m["price"], m["spot"], m["strike"], m["t"], m["r"], flags, q=m["q"],
                                             model="black_scholes_merton", return_as="numpy", on_error="ignore")

    start = time.perf_counter()
    peer_kernel()
    print(f"  (first call incl. numba compilation / cache load: {time.perf_counter() - start:.2f} s)")
    kernel_iv = report("numba kernel implied_volatility_from_a_trans...", size, time_runs(peer_kernel, repeats))
    api_iv = report("vectorized_implied_volatility (public API)", size, time_runs(peer_api, repeats))
    api_greeks = report("get_all_greeks (public API)", size, time_runs(
        lambda: get_all_greeks(flags, m["spot"], m["strike"], m["t"], m["r"], m["sigma"], q=m["q"],
                               model="black_scholes_merton", return_as="dict"), repeats))
    accuracy("numba kernel", peer_kernel(), m)
    accuracy("vectorized_implied_volatility", peer_api(), m)

    theirs = get_all_greeks(flags, m["spot"], m["strike"], m["t"], m["r"], m["sigma"], q=m["q"],
                            model="black_scholes_merton", return_as="dict")
    ours = greeks(*args, m["sigma"], m["is_call"])._asdict()
    pairs = {"delta": "delta", "gamma": "gamma", "vega_per_vol_point": "vega", "theta_per_day": "theta",
             "rho_per_rate_point": "rho"}
    differences = ", ".join(f"{ours_name} {np.max(np.abs(ours[ours_name] - np.asarray(theirs[peer_name]))):.1e}"
                            for ours_name, peer_name in pairs.items())
    print(f"  greeks, max |ours − theirs| (same units): {differences}")
    print("  (py_vollib_vectorized's BSM greeks are finite differences: theta is the price change over one day,\n"
          "   rho holds the cost of carry r − q fixed, so theta and rho differ from the analytic derivatives)\n")

    print("ratio ours / theirs (throughput, best of runs; > 1 means ours is faster)")
    print(f"  implied_volatility vs numba kernel : {ours_iv / kernel_iv:6.2f}")
    print(f"  implied_volatility vs public API   : {ours_iv / api_iv:6.2f}")
    print(f"  greeks vs get_all_greeks           : {ours_greeks / api_greeks:6.2f}")


if __name__ == "__main__":
    main()
