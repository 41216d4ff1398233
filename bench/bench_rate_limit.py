"""Does the shared token bucket keep 4 concurrent backfill processes at the vendor's limit, without 429s?

Run from the repository root (PostgreSQL on 127.0.0.1:5432 for the Postgres case):

    python bench/bench_rate_limit.py                       # 60 requests/minute, 4 processes, ~3 minutes, Postgres then SQLite
    python bench/bench_rate_limit.py --db postgres --duration 300
    python bench/bench_rate_limit.py --quick               # ~50 s, SQLite

A loopback simulator (``python -m enrichment_pipeline.simulator --port 0 --rate-limit-per-minute N``)
answers 429 beyond N requests in any sliding 60 s window. ``--processes`` subprocesses each
materialize ``options_iv_history`` of their own symbol (one Dagster run per session, in-process
execution, session after session) with ``POLYGON_RATE_LIMIT_PER_MINUTE=N``: the pipeline's
``DatabaseTokenBucket`` in the shared data database is all that paces them. Each process stops
launching runs at ``--warmup`` + ``--duration`` seconds; market_data (the underlying closes) is filled beforehand with the
in-process simulator, so every request the loopback simulator sees is paced by the bucket.

Printed: requests per minute in the steady-state window — from the moment every process has made
its first request to the deadline — from ``enrichment_fetch_log.requested_at`` (every HTTP attempt
is logged), as % of the limit (target >= 95 %); 429 responses counted by the simulator
(``/_sim/stats``) and by the fetch log (target 0); and the per-process split.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import loopback_simulator, scratch_environment, simulator_stats, widen_fetch_log_symbol  # noqa: E402

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM"]


def worker(spec: dict) -> dict:
    """One backfill process: options_iv_history of one symbol, one run per session, until the deadline."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("dagster").setLevel(logging.WARNING)
    from dagster import AssetKey, DagsterInstance
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from enrichment_pipeline.definitions import defs
    from enrichment_pipeline.partitions import partition_key, symbol_partitions

    instance = DagsterInstance.get()
    if spec.get("init"):  # once, before the concurrent processes: storage schema and partitions
        instance.add_dynamic_partitions(symbol_partitions.name, spec["symbols"])
        return {}
    job = defs.resolve_job_def("daily_enrichment")
    runs = failed = 0
    for day in spec["days"]:
        if time.time() >= spec["deadline"]:
            break
        key = str(partition_key(spec["symbol"], day))
        result = job.execute_in_process(
            instance=instance, tags={ASSET_PARTITION_RANGE_START_TAG: key, ASSET_PARTITION_RANGE_END_TAG: key},
            asset_selection=[AssetKey("options_iv_history")], raise_on_error=False,
        )
        runs += 1
        failed += not result.success
    return {"symbol": spec["symbol"], "runs": runs, "failed": failed}


def prefill(database_url: str, symbols: list[str], start: dt.date, end: dt.date) -> None:
    """market_data for the symbols, from the in-process simulator (no loopback requests)."""
    from enrichment_pipeline.fetching import fetch_and_store
    from enrichment_pipeline.resources import DatabaseResource, PolygonResource

    database = DatabaseResource(url=database_url)
    if database.engine.dialect.name == "postgresql":
        widen_fetch_log_symbol(database.engine)  # see bench_pipeline: option tickers overflow VARCHAR(16)
    polygon = PolygonResource(database=database, rate_limit_per_minute=0)
    with polygon.client("prefill") as client:
        for symbol in symbols:
            fetch_and_store("market_data", client, database.engine, symbol, [(start, end)], run_id="prefill")


def _underlying(symbol: str) -> str:
    """The stock of an option ticker (``O:AAPL261218C00150000`` -> AAPL); a stock ticker as it is."""
    match = re.match(r"^O:([A-Z.]+?)\d{6}[CP]\d{8}$", symbol or "")
    return match.group(1) if match else symbol


def analyse(database_url: str, limit: float, window_end: float) -> dict:
    from sqlalchemy import select

    from enrichment_pipeline.storage.engine import get_engine
    from enrichment_pipeline.storage.schema import enrichment_fetch_log as log

    engine = get_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(log.c.requested_at, log.c.status_code, log.c.run_id, log.c.symbol).where(log.c.run_id != "prefill")
            .order_by(log.c.requested_at)).all()
    stamp = [(r.requested_at if r.requested_at.tzinfo else r.requested_at.replace(tzinfo=dt.timezone.utc)).timestamp() for r in rows]
    underlying = [_underlying(r.symbol) for r in rows]
    first_by_symbol: dict[str, float] = {}
    for t, symbol in zip(stamp, underlying):
        first_by_symbol.setdefault(symbol, t)
    if len(first_by_symbol) == 0:
        raise RuntimeError("no request in enrichment_fetch_log: did the runs fail?")
    window_start = max(first_by_symbol.values())
    in_window = [symbol for t, symbol in zip(stamp, underlying) if window_start <= t < window_end]
    minutes = (window_end - window_start) / 60.0
    per_symbol: dict[str, int] = {}
    for symbol in in_window:
        per_symbol[symbol] = per_symbol.get(symbol, 0) + 1
    # Worst sliding 60 s window over the whole test (what the vendor looks at).
    worst = 0
    j = 0
    for i in range(len(stamp)):
        while stamp[i] - stamp[j] >= 60.0:
            j += 1
        worst = max(worst, i - j + 1)
    return {
        "requests_total": len(rows),
        "status_429_log": sum(1 for r in rows if r.status_code == 429),
        "window_seconds": window_end - window_start,
        "requests_in_window": len(in_window),
        "rpm": len(in_window) / minutes if minutes > 0 else 0.0,
        "pct_of_limit": 100.0 * len(in_window) / minutes / limit if minutes > 0 else 0.0,
        "per_symbol": per_symbol,
        "worst_60s_window": worst,
        "startup_seconds": window_start - min(stamp) if stamp else 0.0,
    }


def run_case(db: str, args: argparse.Namespace) -> dict:
    from enrichment_pipeline.calendar import latest_closed_session, trading_days

    latest = latest_closed_session()
    days = trading_days(latest - dt.timedelta(days=120), latest)[-60:]
    symbols = SYMBOLS[: args.processes]
    with loopback_simulator(args.limit) as base_url, scratch_environment(db, "ratelimit") as env:
        child_env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_PG_URL", "POLYGON_API_KEY", "MASSIVE_API_KEY")}
        child_env.update(env)
        child_env.update({
            "POLYGON_BASE_URL": base_url, "POLYGON_RATE_LIMIT_PER_MINUTE": str(args.limit),
            "ENRICHMENT_START_DATE": (days[0] - dt.timedelta(days=7)).isoformat(),
            "ENRICHMENT_OPTIONS_MAX_CONTRACTS_PER_DAY": str(args.contracts_per_day), "PYTHONWARNINGS": "ignore",
        })
        if args.burst:
            child_env["POLYGON_RATE_LIMIT_BURST"] = str(args.burst)
        os.environ["ENRICHMENT_START_DATE"] = child_env["ENRICHMENT_START_DATE"]
        prefill(env["DATABASE_URL"], symbols, days[0], days[-1])
        init = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps({"init": True, "symbols": symbols})],
                              cwd=ROOT, env=child_env, capture_output=True, text=True)
        if init.returncode != 0:
            sys.stderr.write(init.stderr[-4000:])
            raise RuntimeError("could not initialise the Dagster instance")
        simulator_stats(base_url, reset=True)
        started = time.time()
        # Start-up (imports, first run) takes a while; the measured window starts when every
        # process has made its first request and ends at the deadline.
        deadline = started + args.warmup + args.duration
        processes = []
        for index, symbol in enumerate(symbols):
            # Each process walks the sessions from a different offset, newest first.
            order = [d.isoformat() for d in reversed(days)]
            spec = {"symbol": symbol, "days": order[index:] + order[:index], "deadline": deadline}
            processes.append(subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
                cwd=ROOT, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outputs = [p.communicate() for p in processes]
        finished = time.time()
        for process, (out, err) in zip(processes, outputs):
            if process.returncode != 0:
                sys.stderr.write(err[-4000:])
                raise RuntimeError(f"rate-limit worker failed ({process.returncode})")
        workers = [json.loads(out.strip().splitlines()[-1][len("RESULT "):]) for out, _ in outputs]
        stats = simulator_stats(base_url)
        result = analyse(env["DATABASE_URL"], args.limit, min(deadline, finished))
    result.update({
        "db": db, "workers": workers, "elapsed": finished - started,
        "sim_requests": stats["total_requests"], "sim_429": stats["rate_limited"], "sim_by_status": stats["by_status"],
    })
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgres,sqlite", help="postgres, sqlite or both (comma-separated; Postgres first)")
    parser.add_argument("--limit", type=int, default=60, help="requests per minute: the simulator's and POLYGON_RATE_LIMIT_PER_MINUTE")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of steady state wanted (after --warmup)")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds allowed for the processes to start")
    parser.add_argument("--contracts-per-day", type=int, default=8,
                        help="ENRICHMENT_OPTIONS_MAX_CONTRACTS_PER_DAY: requests per run = 1 + contracts (keeps runs short)")
    parser.add_argument("--burst", type=float, default=None, help="POLYGON_RATE_LIMIT_BURST (default 1)")
    parser.add_argument("--quick", action="store_true", help="SQLite, limit 120/min, 15 s warm-up + 20 s, 2 contracts a day (< 1 minute)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    if args.quick:
        args.db, args.limit, args.warmup, args.duration, args.contracts_per_day = "sqlite", 120, 15.0, 20.0, 2
    print(f"bench_rate_limit: {args.processes} processes, limit {args.limit}/min (simulator and pipeline), "
          f"{args.duration:.0f} s of runs after {args.warmup:.0f} s warm-up, {args.contracts_per_day} contracts/day; {os.cpu_count()} CPUs")
    results = []
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        result = run_case(db, args)
        results.append(result)
        print(f"\n[{db}] data DB holds the bucket; elapsed {result['elapsed']:.0f} s; runs per process "
              + ", ".join(f"{w['symbol']} {w['runs']}" + (f" ({w['failed']} failed)" if w["failed"] else "") for w in result["workers"]))
        table = [
            ("steady-state window", f"{result['window_seconds']:.0f} s (all {args.processes} processes requesting; "
                                    f"first {result['startup_seconds']:.0f} s of start-up excluded)"),
            ("requests in window", f"{result['requests_in_window']}"),
            ("requests per minute", f"{result['rpm']:.1f} = {result['pct_of_limit']:.1f} % of {args.limit} (target >= 95 %)"),
            ("busiest sliding 60 s", f"{result['worst_60s_window']} requests (limit {args.limit})"),
            ("429 responses", f"simulator {result['sim_429']}, fetch log {result['status_429_log']} (target 0)"),
            ("requests total", f"simulator {result['sim_requests']}, fetch log {result['requests_total']}"),
            ("per process in window", ", ".join(f"{k} {v}" for k, v in sorted(result["per_symbol"].items()))),
        ]
        for label, value in table:
            print(f"  {label:<24} {value}")
        sys.stdout.flush()
    print(f"\n{'db':<9} {'req/min':>8} {'% of limit':>10} {'429s':>5} {'window':>7}")
    for r in results:
        print(f"{r['db']:<9} {r['rpm']:>8.1f} {r['pct_of_limit']:>9.1f}% {r['sim_429']:>5} {r['window_seconds']:>6.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
