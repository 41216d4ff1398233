"""`enrichment-pipeline`: set-up, the demo run, the UI, the watchlist and migrations."""

from __future__ import annotations

import argparse
import os
import sys

from enrichment_pipeline import settings
from enrichment_pipeline.settings import SettingsError
from enrichment_pipeline.symbols import InvalidSymbolError

DEFAULT_DEMO_SESSIONS = 60
# The demo prints its own summary; Dagster's step-by-step DEBUG events stay in the UI.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _engine():  # noqa: ANN202
    from enrichment_pipeline.storage.engine import get_engine
    from enrichment_pipeline.storage.migrate import ensure_schema

    engine = get_engine(settings.database_url())
    ensure_schema(engine)
    return engine


def _sync_partitions(instance, active: list[str]) -> None:  # noqa: ANN001
    from enrichment_pipeline.partitions import symbol_partitions

    current = instance.get_dynamic_partitions(symbol_partitions.name)
    removed = [s for s in current if s not in active]
    added = [s for s in active if s not in current]
    for symbol in removed:
        instance.delete_dynamic_partition(symbol_partitions.name, symbol)
    if added:
        instance.add_dynamic_partitions(symbol_partitions.name, added)


def command_home(_: argparse.Namespace) -> int:
    from enrichment_pipeline.instance_home import prepare_dagster_home
    from enrichment_pipeline.storage.migrate import head_revision

    home = prepare_dagster_home()
    _engine()
    print(f"DAGSTER_HOME={home}")
    print(f"data database: {settings.redact_url(settings.database_url())} (schema revision {head_revision()})")
    return 0


def command_demo(args: argparse.Namespace) -> int:
    """Materialize the daily job for the watchlist: history first, then the latest session."""
    from dagster import AssetKey, DagsterInstance

    from enrichment_pipeline.backfills import HISTORY_ASSETS
    from enrichment_pipeline.calendar import latest_partitioned_session, trading_days
    from enrichment_pipeline.instance_home import prepare_dagster_home
    from enrichment_pipeline.reporting import STATUS_DATASETS
    from enrichment_pipeline.watchlist import active_symbols, reconcile_with_environment

    home = prepare_dagster_home()
    engine = _engine()
    from enrichment_pipeline.definitions import defs
    from enrichment_pipeline.polygon.client import DEFAULT_BASE_URL

    polygon = defs.resources["polygon"]
    source = "the in-process Polygon simulator (no POLYGON_API_KEY set)" if polygon.uses_in_process_simulator else (os.environ.get("POLYGON_BASE_URL") or DEFAULT_BASE_URL)
    reconcile_with_environment(engine, settings.watchlist())
    symbols = active_symbols(engine)
    latest = latest_partitioned_session()
    sessions = [d for d in trading_days(settings.enrichment_start_date(), latest)][-args.sessions:]
    print(f"Enriching {', '.join(symbols)} for {sessions[0]}..{latest} from {source}")
    print(f"data: {settings.redact_url(settings.database_url())}; Dagster history: {home}")
    job = defs.resolve_job_def("daily_enrichment")
    with DagsterInstance.get() as instance:
        _sync_partitions(instance, symbols)
        from enrichment_pipeline.schedules import daily_run_request

        history_assets = [AssetKey(name) for name in HISTORY_ASSETS]
        if len(sessions) > 1:
            from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

            from enrichment_pipeline.partitions import partition_key

            tags = {
                ASSET_PARTITION_RANGE_START_TAG: str(partition_key(symbols[0], sessions[0])),
                ASSET_PARTITION_RANGE_END_TAG: str(partition_key(symbols[-1], sessions[-2])),
            }
            result = job.execute_in_process(instance=instance, tags=tags, asset_selection=history_assets, raise_on_error=False, run_config=QUIET_RUN_CONFIG)
            print(f"history run {result.run_id[:8]}: {'success' if result.success else 'FAILED'}")
            if not result.success:
                return 1
        request = daily_run_request(symbols, latest.isoformat())
        result = job.execute_in_process(instance=instance, tags=request.tags, raise_on_error=False, run_config=QUIET_RUN_CONFIG)
        print(f"daily run {result.run_id[:8]} for {latest}: {'success' if result.success else 'FAILED'}")
        status = defs.resolve_job_def("enrichment_status_refresh").execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET_RUN_CONFIG)
        if not (result.success and status.success):
            return 1
    from sqlalchemy import func, select

    from enrichment_pipeline.storage import schema

    with engine.connect() as connection:
        for dataset in STATUS_DATASETS:
            table = schema.metadata.tables[dataset]
            print(f"  {dataset:22s} {connection.execute(select(func.count()).select_from(table)).scalar_one():>8d} rows")
    print("Open the UI with: enrichment-pipeline dev   (then http://127.0.0.1:3000)")
    return 0


def command_dev(args: argparse.Namespace) -> int:
    from enrichment_pipeline.instance_home import prepare_dagster_home

    prepare_dagster_home()
    _engine()
    os.chdir(settings.project_root())
    arguments = ["dagster", "dev", "-h", args.host, "-p", str(args.port)]
    os.execvp(arguments[0], arguments)
    return 0  # pragma: no cover


def command_symbols(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from enrichment_pipeline.instance_home import prepare_dagster_home
    from enrichment_pipeline.watchlist import active_symbols, reconcile_with_environment, set_active

    prepare_dagster_home()
    engine = _engine()
    reconcile_with_environment(engine, settings.watchlist())
    if args.action in ("add", "remove"):
        chosen = set_active(engine, args.symbols, active=args.action == "add")
        print(f"{'added' if args.action == 'add' else 'removed'}: {', '.join(chosen)}")
    active = active_symbols(engine)
    with DagsterInstance.get() as instance:
        _sync_partitions(instance, active)
    print("watchlist: " + (", ".join(active) or "(empty)"))
    if args.action == "add":
        print("The watchlist sensor starts a backfill from ENRICHMENT_START_DATE for new symbols while the daemon runs.")
    return 0


def command_backfill(args: argparse.Namespace) -> int:
    """Queue a partition backfill for the daemon; with --missing-only, only what is not yet materialized."""
    from dagster import DagsterInstance

    from enrichment_pipeline.backfills import HISTORY_ASSETS, asset_days_for, submit_backfill, subset_of, wanted_partitions, without_materialized
    from enrichment_pipeline.calendar import latest_partitioned_session
    from enrichment_pipeline.instance_home import prepare_dagster_home
    from enrichment_pipeline.symbols import parse_symbol_list

    prepare_dagster_home()
    from enrichment_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    known = sorted(key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).is_partitioned)
    assets = [name.strip() for name in args.assets.split(",")] if args.assets else list(HISTORY_ASSETS)
    unknown = [name for name in assets if name not in known]
    if unknown:
        raise SettingsError(f"unknown asset(s) {', '.join(unknown)}: choose from {', '.join(known)}")
    start = settings.parse_date_setting("--start", args.start) if args.start else settings.enrichment_start_date()
    end = settings.parse_date_setting("--end", args.end) if args.end else latest_partitioned_session()
    if start < settings.enrichment_start_date():
        raise SettingsError(f"--start {start} is before ENRICHMENT_START_DATE={settings.enrichment_start_date()}: partitions begin there")
    if end > latest_partitioned_session():
        raise SettingsError(f"--end {end} is after the latest closed session with a partition ({latest_partitioned_session()})")
    with DagsterInstance.get() as instance:
        registered = instance.get_dynamic_partitions("symbols")
        symbols = parse_symbol_list(args.symbols) if args.symbols else list(registered)
        missing = [s for s in symbols if s not in registered]
        if missing:
            raise SettingsError(f"{', '.join(missing)} not in the watchlist: run `enrichment-pipeline symbols add {' '.join(missing)}` first")
        try:
            plan = asset_days_for(assets, start, end)
        except ValueError as error:
            raise SettingsError(str(error)) from None
        wanted = wanted_partitions(plan, symbols)
        if args.missing_only:
            wanted = without_materialized(wanted, instance)
        if not wanted:
            print("Nothing to do: every requested partition is already materialized.")
            return 0
        backfill_id = submit_backfill(
            instance, subset_of(wanted, graph), title=f"{','.join(symbols)} {start}..{end}" + (" (missing only)" if args.missing_only else ""),
            tags={"enrichment/requested_by": "cli"},
        )
    print(f"backfill {backfill_id}: {len(wanted)} asset partitions of {len(symbols)} symbols, {start}..{end}; "
          "dagster-daemon runs it (see Overview → Backfills in the UI)")
    return 0


def command_db(args: argparse.Namespace) -> int:
    from enrichment_pipeline.storage.engine import get_engine
    from enrichment_pipeline.storage.migrate import current_revision, upgrade_database

    engine = get_engine(settings.database_url())
    if args.action == "upgrade":
        print(f"migrated {settings.redact_url(settings.database_url())} to revision {upgrade_database(engine)}")
    else:
        print(f"{settings.redact_url(settings.database_url())}: revision {current_revision(engine)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enrichment-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("home", help="create .dagster_home and migrate the data database").set_defaults(handler=command_home)
    demo = commands.add_parser("demo", help="run the daily enrichment for the watchlist (simulator when no key is set)")
    demo.add_argument("--sessions", type=int, default=DEFAULT_DEMO_SESSIONS, help="trading days of history to fill first (default 60)")
    demo.set_defaults(handler=command_demo)
    dev = commands.add_parser("dev", help="start `dagster dev` with the project-local DAGSTER_HOME")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(handler=command_dev)
    symbols = commands.add_parser("symbols", help="show or edit the watchlist")
    symbols.add_argument("action", choices=["list", "add", "remove"])
    symbols.add_argument("symbols", nargs="*")
    symbols.set_defaults(handler=command_symbols)
    backfill = commands.add_parser("backfill", help="queue a partition backfill for the daemon (resume with --missing-only)")
    backfill.add_argument("--symbols", help="comma-separated; default every watched symbol")
    backfill.add_argument("--start", help="YYYY-MM-DD; default ENRICHMENT_START_DATE")
    backfill.add_argument("--end", help="YYYY-MM-DD; default the latest closed session")
    backfill.add_argument("--assets", help="comma-separated asset names; default the history assets")
    backfill.add_argument("--missing-only", action="store_true", help="skip partitions already materialized (resume)")
    backfill.set_defaults(handler=command_backfill)
    db = commands.add_parser("db", help="database schema migrations")
    db.add_argument("action", choices=["upgrade", "current"])
    db.set_defaults(handler=command_db)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "action", None) in ("add", "remove") and not args.symbols:
        print("error: give at least one symbol, e.g. `enrichment-pipeline symbols add AMD`", file=sys.stderr)
        return 2
    if getattr(args, "sessions", 1) < 1:
        print("error: --sessions must be at least 1", file=sys.stderr)
        return 2
    try:
        return args.handler(args)
    except (SettingsError, InvalidSymbolError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
