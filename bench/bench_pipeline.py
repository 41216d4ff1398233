"""Wall time of the Dagster pipeline against the simulator: the daily run, a 1-year backfill, memory.

Run from the repository root:

    python bench/bench_pipeline.py --quick                      # < 1 minute: tiny sizes, SQLite
    python bench/bench_pipeline.py                              # (a) + (b) + options history + memory, SQLite and Postgres
    python bench/bench_pipeline.py --db postgres --parts backfill --chunk 65 --event-batch-size 1000

Parts (``--parts``, comma-separated):

* ``daily``    — (a) the ``daily_enrichment`` job for the latest closed session over ``--daily-symbols``
                 symbols in ONE run (every asset of the job, as ``schedules.daily_run_request`` asks).
* ``backfill`` — (b) ``--backfill-symbols`` symbols × ``--days`` sessions of every fetched/derived asset
                 except options_iv (latest session only) and options_iv_history (measured apart), run as
                 the backfill daemon would: one symbol per run, ``--chunk`` sessions per run
                 (ENRICHMENT_MAX_PARTITIONS_PER_RUN; default 260, the assets' BackfillPolicy), one run after
                 another on the same instance.
* ``options``  — options_iv_history alone over ``--options-symbols`` × ``--options-days`` (market_data is
                 filled first, outside the timing): it costs one request per contract.
* ``memory``   — peak RSS (``ru_maxrss``) of a fresh run process doing (b)-style runs of ONE symbol over
                 each of ``--memory-days`` (default 1 month, 1 year, 3 years).

Every measurement runs in a fresh subprocess (so ENRICHMENT_MAX_PARTITIONS_PER_RUN and
DAGSTER_EVENT_BATCH_SIZE, read at import, apply) on a scratch data database (SQLite file or a new
Postgres database) and a scratch Dagster instance (SQLite storage in a temp DAGSTER_HOME, or
dagster-postgres storage in a new database via ``postgresql+psycopg2://``), both dropped afterwards.
The instance uses the repository's dagster.yaml (pools, telemetry off). Runs execute in-process
(``execute_in_process`` of the ``daily_enrichment`` job), steps one after another in the run process.

The Polygon API is the project's simulator with no rate limit, on loopback by default
(``python -m enrichment_pipeline.simulator --port 0`` in a subprocess: real HTTP and JSON), or in
process with ``--transport inprocess``.

"Our work" is the sum of ``enrichment_compute_log.duration_ms`` of the timed runs: each asset
writes one row per symbol slice with the time spent fetching, parsing, computing and writing it.
"Dagster bookkeeping" is wall − our work: run and step start-up, event log writes, partition status,
checks' event records, and the code outside our timed sections.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKFILL_ASSETS = ("market_data", "dividends", "stock_splits", "earnings", "news", "adjustment_factors", "technical_indicators")
TABLES = ("market_data", "dividends", "stock_splits", "earnings", "news", "options_iv", "options_iv_history",
          "adjustment_factors", "technical_indicators")
# Well-known names first (the simulator's default universe), then made-up all-letter tickers
# (option tickers use the symbol's letters as root, so no digits).
KNOWN = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "V", "JNJ", "WMT", "PG", "XOM", "UNH", "HD",
         "MA", "BAC", "KO", "PEP", "DIS"]


def symbols(count: int) -> list[str]:
    made_up = [f"Q{a}{b}" for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    return (KNOWN + made_up)[:count]


# --------------------------------------------------------------------------------------------
# Scratch databases, instance home, simulator
# --------------------------------------------------------------------------------------------

def pg_admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(statement)


@contextmanager
def scratch_environment(db: str, tag: str):
    """Data DB URL, Dagster home (with dagster.yaml) and the env for the worker; removed afterwards."""
    import yaml

    from enrichment_pipeline.instance_home import render_instance_config

    home = Path(tempfile.mkdtemp(prefix=f"bench_{tag}_"))
    env = {"DAGSTER_HOME": str(home)}
    names = []
    if db == "postgres":
        base = f"bench_{tag}_{os.getpid()}_{int(time.time() * 1000) % 10**8}"
        names = [f"{base}_data", f"{base}_dagster"]
        for name in names:
            pg_admin(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{names[0]}"
        env["DAGSTER_PG_URL"] = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{names[1]}"
        os.environ["DAGSTER_PG_URL"] = env["DAGSTER_PG_URL"]
    else:
        env["DATABASE_URL"] = f"sqlite:///{home / 'enrichment.db'}"
        os.environ.pop("DAGSTER_PG_URL", None)
    config = render_instance_config(ROOT / "dagster.yaml")
    os.environ.pop("DAGSTER_PG_URL", None)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        yield env
    finally:
        shutil.rmtree(home, ignore_errors=True)
        for name in names:
            try:
                pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as error:  # noqa: BLE001
                print(f"  (could not drop {name}: {error})", file=sys.stderr)


@contextmanager
def loopback_simulator(rate_limit_per_minute: int | None = None):
    command = [sys.executable, "-m", "enrichment_pipeline.simulator", "--port", "0"]
    if rate_limit_per_minute:
        command += ["--rate-limit-per-minute", str(rate_limit_per_minute)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip()
        if "listening on " not in line:
            raise RuntimeError(f"simulator did not start: {line!r}")
        yield line.split("listening on ", 1)[1]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def simulator_stats(base_url: str, reset: bool = False) -> dict:
    import httpx

    if reset:
        httpx.post(f"{base_url}/_sim/reset", timeout=10)
        return {}
    return httpx.get(f"{base_url}/_sim/stats", timeout=10).json()


def run_worker(spec: dict, env: dict, base_url: str | None) -> dict:
    """Run one measurement in a fresh interpreter; return its JSON result."""
    child_env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_PG_URL", "POLYGON_API_KEY", "MASSIVE_API_KEY")}
    child_env.update(env)
    child_env["POLYGON_RATE_LIMIT_PER_MINUTE"] = str(spec.get("rate_limit_per_minute", 0))
    child_env["ENRICHMENT_START_DATE"] = spec["start_date"]
    child_env["ENRICHMENT_MAX_PARTITIONS_PER_RUN"] = str(spec["chunk"])
    if spec.get("event_batch_size"):
        child_env["DAGSTER_EVENT_BATCH_SIZE"] = str(spec["event_batch_size"])
    else:
        child_env.pop("DAGSTER_EVENT_BATCH_SIZE", None)
    if base_url:
        child_env["POLYGON_BASE_URL"] = base_url
    else:
        child_env.pop("POLYGON_BASE_URL", None)
    child_env["PYTHONWARNINGS"] = "ignore"
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
        cwd=ROOT, env=child_env, capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - started
    result_lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
    if process.returncode != 0 or not result_lines:
        sys.stderr.write(process.stdout[-3000:] + process.stderr[-6000:])
        raise RuntimeError(f"worker failed ({process.returncode}) for {spec['name']}")
    result = json.loads(result_lines[-1][len("RESULT "):])
    result["process_seconds"] = elapsed
    return result


# --------------------------------------------------------------------------------------------
# Worker: runs in a fresh process with the environment set by the parent
# --------------------------------------------------------------------------------------------

def worker(spec: dict) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("dagster").setLevel(logging.WARNING)
    t_import = time.perf_counter()
    if spec.get("indicator_dep_lookback"):
        patch_indicator_dep_lookback(spec["indicator_dep_lookback"])
    from dagster import AssetKey, DagsterInstance
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
    from sqlalchemy import func, select

    from enrichment_pipeline.calendar import trading_days
    from enrichment_pipeline.definitions import defs
    from enrichment_pipeline.fetching import fetch_and_store
    from enrichment_pipeline.partitions import partition_key, symbol_partitions
    from enrichment_pipeline.resources import DatabaseResource, PolygonResource
    from enrichment_pipeline.storage import schema

    import_seconds = time.perf_counter() - t_import
    rss_after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    instance = DagsterInstance.get()
    if spec.get("reuse_dagster_connections"):
        # dagster-postgres storage opens a new connection per event (NullPool); the webserver's
        # variant holds a pooled one. No effect on SQLite storage.
        instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=4)
    job = defs.resolve_job_def("daily_enrichment")
    # The job binds build_resources() (EnvVar-wired); for the untimed setup the same settings, resolved.
    database = DatabaseResource(url=os.environ["DATABASE_URL"])
    polygon = PolygonResource(database=database, base_url=os.environ.get("POLYGON_BASE_URL") or None, rate_limit_per_minute=0)
    engine = database.engine  # migrates the schema
    if engine.dialect.name == "postgresql" and not spec.get("keep_fetch_log_symbol_width"):
        widen_fetch_log_symbol(engine)
    instance.add_dynamic_partitions(symbol_partitions.name, spec["symbols"])

    if spec.get("prefill_market_data"):
        # Outside the timing: the closes options_iv_history needs.
        with polygon.client("prefill") as client:
            for symbol in spec["symbols"]:
                fetch_and_store("market_data", client, engine, symbol,
                                [(dt.date.fromisoformat(spec["prefill_start"]), dt.date.fromisoformat(spec["end"]))], run_id="prefill")

    selection = [AssetKey(name) for name in spec["assets"]] if spec.get("assets") else None
    plan = spec["runs"]  # [[first_symbol, last_symbol, start, end], ...]
    run_ids = []
    failures = 0
    errors: list[str] = []
    rss_before_runs = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.perf_counter()
    for first_symbol, last_symbol, start, end in plan:
        tags = {
            ASSET_PARTITION_RANGE_START_TAG: str(partition_key(first_symbol, start)),
            ASSET_PARTITION_RANGE_END_TAG: str(partition_key(last_symbol, end)),
        }
        result = job.execute_in_process(instance=instance, tags=tags, asset_selection=selection, raise_on_error=False)
        run_ids.append(result.run_id)
        if not result.success:
            failures += 1
            errors.extend(_step_errors(instance, result.run_id))
    wall = time.perf_counter() - began
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    fetch_log, compute_log = schema.enrichment_fetch_log, schema.enrichment_compute_log
    with engine.connect() as connection:
        requests = connection.execute(select(func.count()).where(fetch_log.c.run_id.in_(run_ids))).scalar_one()
        status_429 = connection.execute(
            select(func.count()).where(fetch_log.c.run_id.in_(run_ids), fetch_log.c.status_code == 429)).scalar_one()
        work_by_dataset = {
            dataset: ms / 1000.0
            for dataset, ms in connection.execute(
                select(compute_log.c.dataset, func.sum(compute_log.c.duration_ms))
                .where(compute_log.c.run_id.in_(run_ids)).group_by(compute_log.c.dataset))
        }
        rows = {name: connection.execute(select(func.count()).select_from(schema.metadata.tables[name])).scalar_one()
                for name in TABLES}
    step_seconds = 0.0
    step_by_key: dict[str, float] = {}
    for run_id in run_ids:
        for step in instance.get_run_step_stats(run_id):
            if step.start_time and step.end_time:
                step_seconds += step.end_time - step.start_time
                step_by_key[step.step_key] = step_by_key.get(step.step_key, 0.0) + step.end_time - step.start_time
    partitions = sum(len(trading_days(start, end)) * (len(spec["symbols"]) if first != last else 1)
                     for first, last, start, end in plan)
    return {
        "name": spec["name"], "runs": len(run_ids), "failed_runs": failures, "wall": wall, "requests": requests,
        "status_429": status_429, "our_work": sum(work_by_dataset.values()), "work_by_dataset": work_by_dataset,
        "step_seconds": step_seconds, "step_by_key": step_by_key, "rows": rows, "partitions": partitions,
        "assets": len(spec["assets"]) if spec.get("assets") else len(job.asset_layer.executable_asset_keys),
        "rss_after_import_mb": rss_after_import, "rss_before_runs_mb": rss_before_runs, "rss_peak_mb": rss_peak,
        "import_seconds": import_seconds, "errors": errors[:5],
    }


def patch_indicator_dep_lookback(sessions: int) -> None:
    """What-if without editing the tree: load ``assets/derived.py`` with technical_indicators' deps
    declared to Dagster with ``sessions`` of lookback. Works on both versions of the file: the one
    that declared INDICATOR_LOOKBACK_SESSIONS (400, the constant the computation also reads) and the
    one with DECLARED_LOOKBACK_SESSIONS (60, since commit e609df6). The computation is unchanged.
    Must run before anything imports ``enrichment_pipeline.assets``."""
    import importlib.util
    import re

    if "enrichment_pipeline.assets" in sys.modules:
        raise RuntimeError("patch_indicator_dep_lookback must run before enrichment_pipeline.assets is imported")
    # The package without its __init__ (which imports derived) so that derived can be loaded first.
    package_spec = importlib.util.find_spec("enrichment_pipeline.assets")
    package = importlib.util.module_from_spec(package_spec)
    sys.modules[package_spec.name] = package
    derived_path = Path(package_spec.submodule_search_locations[0]) / "derived.py"
    source = derived_path.read_text()
    if re.search(r"^DECLARED_LOOKBACK_SESSIONS = \d+", source, flags=re.M):
        source = re.sub(r"^DECLARED_LOOKBACK_SESSIONS = \d+", f"DECLARED_LOOKBACK_SESSIONS = {sessions}", source, flags=re.M)
    else:
        source = source.replace("same_symbol_with_lookback(INDICATOR_LOOKBACK_SESSIONS)", f"same_symbol_with_lookback({sessions})")
    derived_spec = importlib.util.spec_from_file_location("enrichment_pipeline.assets.derived", derived_path)
    derived = importlib.util.module_from_spec(derived_spec)
    sys.modules[derived_spec.name] = derived
    # dont_inherit: this file's `from __future__ import annotations` must not leak into the module.
    exec(compile(source, str(derived_path), "exec", dont_inherit=True), derived.__dict__)  # noqa: S102
    package.derived = derived
    package_spec.loader.exec_module(package)  # now the package's __init__, which finds derived loaded


def widen_fetch_log_symbol(engine) -> None:  # noqa: ANN001
    """Work around a bug found by this benchmark in checkouts before migration 0002 (commit e609df6):
    ``enrichment_fetch_log.symbol`` was VARCHAR(16) but options_iv_history logs option tickers
    (``O:AAPL261218C00150000``, 21 characters) there, so on PostgreSQL the fetch-log flush failed and
    the step was retried until it failed. A no-op where the column is already VARCHAR(40)."""
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE enrichment_fetch_log ALTER COLUMN symbol TYPE varchar(40)")


def _step_errors(instance, run_id: str) -> list[str]:  # noqa: ANN001
    from dagster import DagsterEventType

    messages = []
    for record in instance.all_logs(run_id, of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_UP_FOR_RETRY}):
        event = record.dagster_event
        data = event.event_specific_data
        error = getattr(data, "error", None)
        text = record.user_message
        while error is not None:
            text = error.message.strip()
            error = error.cause
        messages.append(f"{event.step_key} {event.event_type_value}: {text[:400]}")
    return messages


# --------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------

def backfill_plan(symbol_list: list[str], sessions: list[dt.date], chunk: int) -> list[list[str]]:
    plan = []
    for symbol in symbol_list:
        for index in range(0, len(sessions), chunk):
            part = sessions[index:index + chunk]
            plan.append([symbol, symbol, part[0].isoformat(), part[-1].isoformat()])
    return plan


def build_specs(args: argparse.Namespace) -> list[dict]:
    from enrichment_pipeline.calendar import latest_closed_session, trading_days

    latest = latest_closed_session()
    longest = max([args.days, args.options_days, *args.memory_days])
    sessions_all = trading_days(latest - dt.timedelta(days=int(longest * 1.5) + 30), latest)
    start_date = (sessions_all[-longest] - dt.timedelta(days=7)).isoformat()
    common = {"start_date": start_date, "chunk": args.chunk, "event_batch_size": args.event_batch_size,
              "reuse_dagster_connections": args.reuse_dagster_connections, "indicator_dep_lookback": args.indicator_dep_lookback}
    specs = []
    if "daily" in args.parts:
        names = symbols(args.daily_symbols)
        specs.append({**common, "name": f"(a) daily, {len(names)} symbols x 1 session, all assets, 1 run", "part": "daily",
                      "symbols": names, "assets": None,
                      "runs": [[names[0], names[-1], latest.isoformat(), latest.isoformat()]]})
    if "backfill" in args.parts:
        names = symbols(args.backfill_symbols)
        sessions = sessions_all[-args.days:]
        specs.append({**common, "name": f"(b) backfill, {len(names)} symbols x {len(sessions)} sessions, chunk {args.chunk}",
                      "part": "backfill", "symbols": names, "assets": list(BACKFILL_ASSETS),
                      "runs": backfill_plan(names, sessions, args.chunk)})
    if "options" in args.parts:
        names = symbols(args.options_symbols)
        sessions = sessions_all[-args.options_days:]
        specs.append({**common, "name": f"options_iv_history, {len(names)} symbols x {len(sessions)} sessions, chunk {args.chunk}",
                      "part": "options", "symbols": names, "assets": ["options_iv_history"],
                      "prefill_market_data": True, "prefill_start": sessions[0].isoformat(), "end": sessions[-1].isoformat(),
                      "runs": backfill_plan(names, sessions, args.chunk)})
    if "memory" in args.parts:
        for days in args.memory_days:
            sessions = sessions_all[-days:]
            for chunk in [args.chunk] + ([days] if args.memory_single_run and days > args.chunk else []):
                specs.append({**common, "chunk": chunk, "name": f"memory, 1 symbol x {days} sessions, chunk {chunk}",
                              "part": "memory", "days": days, "symbols": ["AAPL"], "assets": list(BACKFILL_ASSETS),
                              "runs": backfill_plan(["AAPL"], sessions, chunk)})
    return specs


def print_result(db: str, result: dict) -> None:
    wall, work = result["wall"], result["our_work"]
    bookkeeping = wall - work
    asset_partitions = result["partitions"] * result["assets"]
    print(f"\n[{db}] {result['name']}")
    table = [
        ("wall time (timed runs)", f"{wall:,.1f} s"),
        ("runs (failed)", f"{result['runs']} ({result['failed_runs']})"),
        ("partitions x assets", f"{result['partitions']:,} x {result['assets']} = {asset_partitions:,}"),
        ("API requests (fetch log)", f"{result['requests']:,}" + (f"  (429: {result['status_429']})" if result["status_429"] else "")),
        ("our work (compute log)", f"{work:,.1f} s = {100 * work / wall:.1f} % of wall"),
        ("Dagster bookkeeping (wall - work)", f"{bookkeeping:,.1f} s = {100 * bookkeeping / wall:.1f} % of wall"
                                              f" = {1000 * bookkeeping / max(asset_partitions, 1):.1f} ms per asset-partition"),
        ("  of which inside steps", f"{result['step_seconds'] - work:,.1f} s (step time {result['step_seconds']:,.1f} s)"),
        ("peak RSS of the run process", f"{result['rss_peak_mb']:,.0f} MB (after imports {result['rss_after_import_mb']:,.0f} MB)"),
        ("process total incl. imports/setup", f"{result['process_seconds']:,.1f} s"),
    ]
    for label, value in table:
        print(f"  {label:<36} {value}")
    for error in result.get("errors", []):
        print(f"  ERROR {error}")
    work_parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(result["work_by_dataset"].items(), key=lambda kv: -kv[1]))
    print(f"  {'our work by dataset (s)':<36} {work_parts}")
    steps = ", ".join(f"{k} {v:.1f}" for k, v in sorted(result.get("step_by_key", {}).items(), key=lambda kv: -kv[1]))
    print(f"  {'step time by asset (s)':<36} {steps}")
    rows = ", ".join(f"{k} {v:,}" for k, v in result["rows"].items() if v)
    print(f"  {'rows written':<36} {rows}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite,postgres", help="sqlite, postgres or both (comma-separated)")
    parser.add_argument("--parts", default="daily,backfill,options,memory")
    parser.add_argument("--daily-symbols", type=int, default=100)
    parser.add_argument("--backfill-symbols", type=int, default=20)
    parser.add_argument("--days", type=int, default=252, help="sessions of the backfill (252 = 1 year)")
    parser.add_argument("--options-symbols", type=int, default=2)
    parser.add_argument("--options-days", type=int, default=21)
    parser.add_argument("--memory-days", default="21,252,756", help="sessions of the memory runs (1 month, 1 year, 3 years)")
    parser.add_argument("--memory-single-run", action="store_true", help="also measure each memory range as ONE run (chunk = range)")
    parser.add_argument("--chunk", type=int, default=260, help="ENRICHMENT_MAX_PARTITIONS_PER_RUN: sessions per backfill run")
    parser.add_argument("--event-batch-size", type=int, default=0, help="DAGSTER_EVENT_BATCH_SIZE (0 = unset)")
    parser.add_argument("--reuse-dagster-connections", action="store_true",
                        help="pooled connections for Dagster's Postgres storage (instance.optimize_for_webserver)")
    parser.add_argument("--indicator-dep-lookback", type=int, default=None, metavar="N",
                        help="what-if: declare technical_indicators' partition mapping with N sessions of lookback "
                             "(400 before commit e609df6, 60 since; the computation still reads 400)")
    parser.add_argument("--transport", choices=("loopback", "inprocess"), default="loopback")
    parser.add_argument("--quick", action="store_true",
                        help="SQLite only, (a) with 5 symbols and (b) with 2 symbols x 5 sessions: under a minute")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    if args.quick:
        args.db, args.parts = "sqlite", "daily,backfill"
        args.daily_symbols, args.backfill_symbols, args.days = 5, 2, 5
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    args.memory_days = [int(d) for d in str(args.memory_days).split(",")] if "memory" in args.parts else []
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]

    import platform

    print(f"bench_pipeline: {os.cpu_count()} CPUs, Python {platform.python_version()}, transport {args.transport}, "
          f"chunk {args.chunk}, DAGSTER_EVENT_BATCH_SIZE {args.event_batch_size or 'unset'}, "
          f"Dagster storage connections {'pooled' if args.reuse_dagster_connections else 'per event (default)'}, "
          f"indicator dep lookback {args.indicator_dep_lookback or 'as in the code'}, no rate limit")
    specs = build_specs(args)
    results = []
    with (loopback_simulator() if args.transport == "loopback" else _nothing()) as base_url:
        if base_url:
            print(f"simulator on loopback: {base_url}")
        for db in dbs:
            for spec in specs:
                with scratch_environment(db, spec["part"]) as env:
                    result = run_worker(spec, env, base_url)
                result["db"] = db
                results.append(result)
                print_result(db, result)
                sys.stdout.flush()
    memory = [r for r in results if r["name"].startswith("memory")]
    if memory:
        print("\nPeak RSS of the run process (target <= 400 MB, flat as the range grows):")
        print(f"  {'db':<9} {'range':<32} {'runs':>4} {'peak RSS':>10} {'after imports':>14} {'wall':>8}")
        for r in memory:
            print(f"  {r['db']:<9} {r['name'][8:]:<32} {r['runs']:>4} {r['rss_peak_mb']:>7,.0f} MB {r['rss_after_import_mb']:>11,.0f} MB {r['wall']:>7,.1f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


@contextmanager
def _nothing():
    yield None


if __name__ == "__main__":
    sys.exit(main())
