"""End to end, with real parts: the Polygon simulator over HTTP, `dagster-webserver` and
`dagster-daemon` as subprocesses on Postgres storage, a partition backfill launched through
the GraphQL API and run by the backfill daemon, rows checked in a Postgres data database,
and screenshots of the UI taken with headless Chromium.

Determinism: the watchlist sensor is RUNNING by default and would launch its own backfill of
every symbol from ENRICHMENT_START_DATE. The test stops it through GraphQL after the webserver
has loaded the code location and *before* the daemon starts, so the daemon never evaluates it:
the only runs are the ones of the backfill launched here (the sensor's backfill would also add
options_iv and options_iv_history, and its timing depends on a 60 s tick). The test then adds
the `symbols` partitions itself (GraphQL `addDynamicPartition`).

Budget, measured on 2 busy cores: ~10 s until the webserver has loaded the code location;
~75 s of backfill — the backfill daemon makes one run per symbol (7 assets × 10 sessions each,
its multi-run backfill policy holds the symbol fixed), the `polygon_api` pool (5 slots, op
granularity) lets the run queue start them one after the other, and the daemon, which
evaluates a backfill every 30 s, marks it complete up to 30 s after its last run; ~10 s of
screenshots. About 1 min 45 s in all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock
from urllib.parse import quote

import pytest
import yaml
from sqlalchemy import create_engine, text

from enrichment_pipeline.calendar import latest_closed_session, trading_days
from enrichment_pipeline.instance_home import render_instance_config
from enrichment_pipeline.partitions import trading_day_partitions
from enrichment_pipeline_tests.conftest import POSTGRES_ADMIN_URL, REPO_ROOT, require_postgres
from enrichment_pipeline_tests.e2e_support import (
    ERROR_BANNERS,
    GraphQL,
    ManagedProcess,
    assert_rendered_png,
    chromium_driver,
    dismiss_dialogs,
    expect_type,
    free_port,
    fresh_postgres_database,
    open_dialogs,
    page_text,
    wait_for,
    with_driver,
)

# One stack serves the module's tests; under pytest-xdist, `--dist loadgroup` keeps them on one worker.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420), pytest.mark.xdist_group("end_to_end")]

SYMBOLS = ("AAPL", "MSFT", "NVDA")
SESSIONS = 10
FETCHED_ASSETS = ("market_data", "dividends", "stock_splits", "earnings", "news")
DERIVED_ASSETS = ("adjustment_factors", "technical_indicators")
BACKFILL_ASSETS = FETCHED_ASSETS + DERIVED_ASSETS  # not options_iv: it only takes the latest session
LOCATION = "enrichment_pipeline"
REPOSITORY = "__repository__"
REPOSITORY_SELECTOR = {"repositoryName": REPOSITORY, "repositoryLocationName": LOCATION}
ARTIFACTS = REPO_ROOT / "test-artifacts"

STARTUP_TIMEOUT = 120  # code location load on a busy 2-core machine
BACKFILL_TIMEOUT = 240
TERMINAL_BACKFILL_STATUSES = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
# Variables of the caller's shell that would leak into the stack (a real key, another database…).
FOREIGN_VARIABLE_PREFIXES = ("POLYGON_", "MASSIVE_", "ENRICHMENT_", "DAGSTER_", "DATABASE_URL")


def keep_logs(processes: dict[str, ManagedProcess]) -> None:
    """Copy the subprocess logs to test-artifacts/e2e-logs/ (CI keeps that folder; pytest's tmp rotates)."""
    target = ARTIFACTS / "e2e-logs"
    target.mkdir(parents=True, exist_ok=True)
    for process in processes.values():
        with contextlib.suppress(OSError):
            shutil.copyfile(process.log_path, target / process.log_path.name)


@dataclass
class Stack:
    graphql: GraphQL
    webserver_url: str
    data_url: str
    sessions: list[dt.date]
    processes: dict[str, ManagedProcess]
    timings: dict[str, float] = field(default_factory=dict)

    def assert_alive(self) -> None:
        for process in self.processes.values():
            process.assert_running()


def log_tails(processes: dict[str, ManagedProcess], lines: int = 80) -> str:
    return "\n".join(
        f"----- last {lines} lines of {process.name} ({process.log_path}) -----\n{process.tail(lines)}"
        for process in processes.values()
    )


def backfill_sessions(start: dt.date) -> list[dt.date]:
    """The 10 latest closed sessions that are already Dagster partitions.

    A session's partition exists once its UTC day has ended (one-day windows closing at
    00:00 UTC), so between the 16:00 New York close and midnight UTC the latest closed session
    is not a partition yet and the 10 end one session earlier.
    """
    latest = latest_closed_session()
    existing = set(trading_day_partitions(start).get_partition_keys())
    sessions = [day for day in trading_days(start, latest) if day.isoformat() in existing]
    assert len(sessions) >= SESSIONS, f"only {len(sessions)} sessions between {start} and {latest}"
    return sessions[-SESSIONS:]


def partition_names(sessions: list[dt.date]) -> list[str]:
    # Multi-partition keys: dimensions sorted by name, so the date comes first.
    return [f"{day.isoformat()}|{symbol}" for symbol in SYMBOLS for day in sessions]


def executable(name: str) -> str:
    """A console script of the interpreter running the tests (same virtualenv), else from PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is not installed"
    return found


def clean_environment() -> dict[str, str]:
    """This process's environment without the project's and Dagster's settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(FOREIGN_VARIABLE_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def stack_environment(home: Path, dagster_url: str, data_url: str, simulator_url: str, start: dt.date, work: Path) -> dict[str, str]:
    """Environment of the webserver, the daemon and (inherited) every run worker."""
    env = clean_environment()
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_PG_URL=dagster_url,
        DATABASE_URL=data_url,
        POLYGON_BASE_URL=simulator_url,
        POLYGON_RATE_LIMIT_PER_MINUTE="0",
        ENRICHMENT_SYMBOLS=",".join(SYMBOLS),
        ENRICHMENT_START_DATE=start.isoformat(),
        ENRICHMENT_RETRY_DELAY_SECONDS="1",
        ENRICHMENT_DATA_DIR=str(work / "data"),  # nothing lands in the checkout's data/
    )
    return env


def write_instance_config(home: Path, dagster_url: str) -> dict:
    """The repository's dagster.yaml, rendered the way `enrichment-pipeline home` renders it."""
    home.mkdir(parents=True, exist_ok=True)
    with mock.patch.dict(os.environ, {"DAGSTER_PG_URL": dagster_url}):
        config = render_instance_config(REPO_ROOT / "dagster.yaml")
    assert config["storage"] == {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return config


LOCATION_QUERY = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { repositories { name } }
          ... on PythonError { message stack }
        }
      }
    }
    ... on PythonError { message stack }
  }
}
"""


def location_loaded(graphql: GraphQL) -> bool:
    workspace = expect_type(graphql(LOCATION_QUERY)["workspaceOrError"], "Workspace")
    entries = {entry["name"]: entry for entry in workspace["locationEntries"]}
    entry = entries.get(LOCATION)
    if entry is None or entry["loadStatus"] != "LOADED" or entry["locationOrLoadError"] is None:
        return False
    location = expect_type(entry["locationOrLoadError"], "RepositoryLocation")  # a load error fails at once
    assert REPOSITORY in [repository["name"] for repository in location["repositories"]], location
    return True


SENSOR_QUERY = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { name jobOriginId sensorState { selectorId status } }
    ... on PythonError { message stack }
  }
}
"""

STOP_SENSOR = """
mutation Stop($originId: String!, $selectorId: String!) {
  stopSensor(jobOriginId: $originId, jobSelectorId: $selectorId) {
    __typename
    ... on StopSensorMutationResult { instigationState { status } }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
  }
}
"""


def stop_sensor(graphql: GraphQL, name: str) -> None:
    sensor = expect_type(
        graphql(SENSOR_QUERY, {"selector": {**REPOSITORY_SELECTOR, "sensorName": name}})["sensorOrError"], "Sensor"
    )
    result = expect_type(
        graphql(STOP_SENSOR, {"originId": sensor["jobOriginId"], "selectorId": sensor["sensorState"]["selectorId"]})["stopSensor"],
        "StopSensorMutationResult",
    )
    assert result["instigationState"]["status"] == "STOPPED", result


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Simulator, webserver and daemon on two fresh Postgres databases; all torn down afterwards."""
    require_postgres()
    began = time.monotonic()
    failed_before = request.session.testsfailed
    work = tmp_path_factory.mktemp("e2e")
    logs = work / "logs"
    logs.mkdir()
    processes: dict[str, ManagedProcess] = {}
    built: Stack | None = None
    setup_failed = False
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(keep_logs, processes)  # runs last, once every process has stopped
        try:
            dagster_db = cleanup.enter_context(fresh_postgres_database(POSTGRES_ADMIN_URL, "dagster"))
            data_db = cleanup.enter_context(fresh_postgres_database(POSTGRES_ADMIN_URL, "data"))
            dagster_url = with_driver(dagster_db, "postgresql+psycopg2")  # dagster-postgres needs psycopg2
            data_url = with_driver(data_db, "postgresql")  # the project maps it to psycopg 3

            def start(name: str, command: list[str], env: dict[str, str]) -> ManagedProcess:
                process = ManagedProcess(name, command, env=env, cwd=REPO_ROOT, log_dir=logs)
                processes[name] = process
                cleanup.callback(process.stop)
                return process

            simulator = start("simulator", [sys.executable, "-m", "enrichment_pipeline.simulator", "--port", "0"], clean_environment())
            simulator_url = simulator.wait_for_line("Polygon simulator listening on ", timeout=60).split()[-1]

            # About three months of partitions: the date dimension stays small.
            start_date = latest_closed_session() - dt.timedelta(days=92)
            sessions = backfill_sessions(start_date)
            home = work / "dagster_home"
            write_instance_config(home, dagster_url)
            env = stack_environment(home, dagster_url, data_url, simulator_url, start_date, work)

            port = free_port()
            webserver_url = f"http://127.0.0.1:{port}"
            workspace = str(REPO_ROOT / "workspace.yaml")
            webserver = start("webserver", [executable("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", workspace], env)
            graphql = GraphQL(webserver_url)
            cleanup.callback(graphql.close)

            def server_info() -> bool:
                webserver.assert_running()
                return graphql.get("/server_info").status_code == 200

            wait_for(server_info, timeout=STARTUP_TIMEOUT, what="GET /server_info")

            def loaded() -> bool:
                webserver.assert_running()
                return location_loaded(graphql)

            wait_for(loaded, timeout=STARTUP_TIMEOUT, interval=1, what=f"code location {LOCATION} to load")
            stop_sensor(graphql, "watchlist_sensor")  # before the daemon exists: it never ticks
            start("daemon", [executable("dagster-daemon"), "run", "-w", workspace], env)
            built = Stack(graphql, webserver_url, data_url, sessions, processes)
            built.timings["stack_ready"] = time.monotonic() - began
            yield built
        except BaseException:
            setup_failed = True
            raise
        finally:
            if setup_failed or request.session.testsfailed > failed_before:
                print("\n" + log_tails(processes))
            if built is not None:
                print("\nend-to-end timings (s): " + ", ".join(f"{k}={v:.1f}" for k, v in built.timings.items()))


ADD_PARTITION = """
mutation Add($selector: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $selector, partitionsDefName: $name, partitionKey: $key) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on DuplicateDynamicPartitionError { partitionName }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
  }
}
"""

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionKeysNotFoundError { message partitionKeys }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status
      numPartitions
      error { message stack }
      runs { runId status creationTime startTime endTime assetSelection { path } tags { key value } }
      assetBackfillData {
        assetBackfillStatuses {
          __typename
          ... on AssetPartitionsStatusCounts {
            assetKey { path }
            numPartitionsTargeted
            numPartitionsInProgress
            numPartitionsMaterialized
            numPartitionsFailed
          }
        }
      }
    }
    ... on PythonError { message stack }
  }
}
"""


@pytest.fixture(scope="module")
def backfill(stack: Stack) -> dict:
    """Register the symbols, launch 3 symbols × 10 sessions of every history asset, wait for the end."""
    began = time.monotonic()
    for symbol in SYMBOLS:
        result = stack.graphql(ADD_PARTITION, {"selector": REPOSITORY_SELECTOR, "name": "symbols", "key": symbol})
        expect_type(result["addDynamicPartition"], "AddDynamicPartitionSuccess")
    params = {
        "partitionNames": partition_names(stack.sessions),
        "assetSelection": [{"path": [name]} for name in BACKFILL_ASSETS],
        "title": "end-to-end test backfill",
    }
    launched = expect_type(stack.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"], "LaunchBackfillSuccess")
    backfill_id = launched["backfillId"]

    def finished() -> dict | None:
        stack.assert_alive()
        state = expect_type(stack.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"], "PartitionBackfill")
        return state if state["status"] in TERMINAL_BACKFILL_STATUSES else None

    launched_at = time.time()
    state = wait_for(finished, timeout=BACKFILL_TIMEOUT, interval=2, what=f"backfill {backfill_id} to finish")
    stack.timings["backfill"] = time.monotonic() - began
    print(f"\nbackfill {backfill_id}: {state['status']} after {stack.timings['backfill']:.1f}s, {len(state['runs'])} runs")
    for run in sorted(state["runs"], key=lambda run: run["creationTime"]):
        tags = {tag["key"]: tag["value"] for tag in run["tags"]}
        assets = ",".join(key["path"][-1] for key in run["assetSelection"] or [])
        print(
            f"  run {run['runId'][:8]} {run['status']:8s} created +{run['creationTime'] - launched_at:5.1f}s "
            f"started +{(run['startTime'] or launched_at) - launched_at:5.1f}s ended +{(run['endTime'] or launched_at) - launched_at:5.1f}s "
            f"{tags.get('dagster/asset_partition_range_start', '')}..{tags.get('dagster/asset_partition_range_end', '')} [{assets}]"
        )
    return {"id": backfill_id, **state}


def test_backfill_through_graphql_fills_the_data_tables(stack: Stack, backfill: dict) -> None:
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), backfill
    assert backfill["error"] is None, backfill["error"]
    assert backfill["runs"], "the backfill launched no run"
    assert Counter(run["status"] for run in backfill["runs"]) == {"SUCCESS": len(backfill["runs"])}, backfill["runs"]
    counts = {
        "/".join(status["assetKey"]["path"]): status
        for status in backfill["assetBackfillData"]["assetBackfillStatuses"]
        if status["__typename"] == "AssetPartitionsStatusCounts"
    }
    assert set(counts) == set(BACKFILL_ASSETS)
    expected_partitions = len(SYMBOLS) * SESSIONS
    for name, status in counts.items():
        assert (status["numPartitionsTargeted"], status["numPartitionsMaterialized"], status["numPartitionsFailed"]) == (
            expected_partitions, expected_partitions, 0,
        ), (name, status)

    first, last = stack.sessions[0], stack.sessions[-1]
    expected_keys = {(symbol, day) for symbol in SYMBOLS for day in stack.sessions}
    engine = create_engine(stack.data_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            bars = connection.execute(text("SELECT symbol, date, is_simulated FROM market_data ORDER BY symbol, date")).all()
            indicators = connection.execute(
                text("SELECT symbol, date, timeframe, is_simulated FROM technical_indicators WHERE date BETWEEN :first AND :last"),
                {"first": first, "last": last},
            ).all()
            factors = connection.execute(text("SELECT symbol, date FROM adjustment_factors")).all()
    finally:
        engine.dispose()

    # Exactly the backfilled rectangle: the stopped watchlist sensor started nothing else.
    assert len(bars) == expected_partitions
    assert {(row.symbol, row.date) for row in bars} == expected_keys
    assert all(row.is_simulated for row in bars), "market_data rows not marked as simulated"
    assert {(row.symbol, row.date) for row in factors} == expected_keys
    timeframes: dict[tuple[str, dt.date], list[str]] = {}
    for row in indicators:
        timeframes.setdefault((row.symbol, row.date), []).append(row.timeframe)
    assert set(timeframes) == expected_keys
    assert all(sorted(frames) == ["1d", "1w"] for frames in timeframes.values()), timeframes
    assert len(indicators) == 2 * expected_partitions
    assert all(row.is_simulated for row in indicators), "technical_indicators rows not marked as simulated"


INSTIGATORS = """
query Instigators($selector: RepositorySelector!) {
  repositoryOrError(repositorySelector: $selector) {
    __typename
    ... on Repository {
      schedules { name cronSchedule executionTimezone scheduleState { status } }
      sensors { name sensorState { status ticks(limit: 1) { status } } }
    }
    ... on PythonError { message stack }
  }
  instance { daemonHealth { allDaemonStatuses { daemonType required healthy lastHeartbeatErrors { message } } } }
}
"""


def test_schedule_and_sensors_are_loaded(stack: Stack, backfill: dict) -> None:  # noqa: ARG001 - after the backfill the daemon has ticked
    data = stack.graphql(INSTIGATORS, {"selector": REPOSITORY_SELECTOR})
    repository = expect_type(data["repositoryOrError"], "Repository")
    schedules = {schedule["name"]: schedule for schedule in repository["schedules"]}
    sensors = {sensor["name"]: sensor for sensor in repository["sensors"]}

    daily = schedules["daily_enrichment_schedule"]
    assert (daily["cronSchedule"], daily["executionTimezone"], daily["scheduleState"]["status"]) == ("30 1 * * *", "UTC", "RUNNING")
    assert sensors["watchlist_sensor"]["sensorState"]["status"] == "STOPPED"  # stopped by this test
    assert sensors["watchlist_sensor"]["sensorState"]["ticks"] == []  # ...before the daemon could tick it
    failure_sensor = sensors["run_failure_alert_sensor"]["sensorState"]
    assert failure_sensor["status"] == "RUNNING"
    assert failure_sensor["ticks"], "the daemon never evaluated run_failure_alert_sensor"

    daemons = {status["daemonType"]: status for status in data["instance"]["daemonHealth"]["allDaemonStatuses"]}
    for daemon_type in ("SCHEDULER", "SENSOR", "BACKFILL", "QUEUED_RUN_COORDINATOR"):
        status = daemons[daemon_type]
        assert status["required"] and status["healthy"], status


def shows_asset(lines: list[str], name: str) -> bool:
    """Whether a graph node shows ``name``: in full, or shortened around "…" as small nodes do."""
    for line in lines:
        if line == name:
            return True
        head, ellipsis, tail = line.partition("…")
        if ellipsis and len(head) >= 3 and len(tail) >= 3 and name.startswith(head) and name.endswith(tail):
            return True
    return False


def wait_for_page(driver, ready: Callable[[str], bool], what: str, timeout: float = 90) -> None:  # noqa: ANN001
    """Close first-visit dialogs and wait until ``ready(page text)``; an error banner fails at once."""

    def probe() -> bool:
        dismiss_dialogs(driver)
        body = page_text(driver)
        banners = [banner for banner in ERROR_BANNERS if banner in body]
        assert not banners, f"{driver.current_url} shows {banners}:\n{body[:2000]}"
        return ready(body)

    wait_for(probe, timeout=timeout, interval=0.5, what=f"{driver.current_url} to show {what}")


def save_screenshot(driver, path: Path) -> str:  # noqa: ANN001
    """Let animations settle, close any late dialog, save a PNG; returns the page source."""

    def settled() -> bool:
        time.sleep(1)  # the graph eases into its zoom; a first-visit dialog fades in about 1 s after load
        dismiss_dialogs(driver)
        return not open_dialogs(driver)

    wait_for(settled, timeout=15, interval=0, what="no dialog over the page")
    body = page_text(driver)
    assert not [banner for banner in ERROR_BANNERS if banner in body], body[:2000]
    path.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(path)), f"could not save {path}"
    return driver.page_source


GRAPH_ASSETS = (*BACKFILL_ASSETS, "options_iv", "options_iv_history", "polygon_option_prices", "enrichment_status")
GROUPS = ("polygon", "analytics", "operations")


def screenshot_asset_graph(driver, base_url: str, path: Path) -> str:  # noqa: ANN001
    """The global lineage with every group expanded, laid out top-down (a wide page fits it whole)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(f"{base_url}/server_info")  # same origin, to seed the UI's preferences
    driver.execute_script(
        "localStorage.setItem('asset-graph-direction', JSON.stringify('vertical'));"
        "localStorage.setItem('dagster-nav-collapsed', 'true');"
    )
    # Several groups start collapsed; ?expanded= is what the UI's "Expand all groups" writes.
    expanded = ",".join(f"global@global:{group}" for group in GROUPS)
    driver.get(f"{base_url}/asset-groups?expanded={quote(expanded)}")

    def every_node(body: str) -> bool:
        return all(shows_asset(body.splitlines(), name) for name in GRAPH_ASSETS)

    try:
        wait_for_page(driver, every_node, "every asset node", timeout=45)
    except TimeoutError:
        # Group ids spelled differently by another UI version: the keyboard shortcut (⌥E) instead.
        ActionChains(driver).key_down(Keys.ALT).send_keys("e").key_up(Keys.ALT).perform()
        wait_for_page(driver, every_node, "every asset node after ⌥E", timeout=30)
    # Fold the asset tree away and re-centre (double-click on empty canvas): the graph fills the page.
    with contextlib.suppress(Exception):
        driver.find_element(By.XPATH, "//button[.//*[@aria-label='panel_show_right']]").click()
        canvas = driver.find_element(By.CSS_SELECTOR, "[data-svg-viewport]")
        width, height = canvas.rect["width"], canvas.rect["height"]
        time.sleep(0.5)
        ActionChains(driver).move_to_element_with_offset(canvas, -width // 2 + 20, height // 2 - 20).double_click().perform()
    return save_screenshot(driver, path)


def screenshot_partitions(driver, base_url: str, path: Path, materialized: int) -> str:  # noqa: ANN001
    """market_data's partitions tab, once its counts include the backfilled partitions."""
    expected = (f"Materialized ({materialized})", "Partitions Selected", *SYMBOLS)
    driver.get(f"{base_url}/assets/market_data?view=partitions")
    wait_for_page(driver, lambda body: all(item in body for item in expected), " and ".join(expected))
    return save_screenshot(driver, path)


def test_ui_screenshots(stack: Stack, backfill: dict) -> None:  # noqa: ARG001 - the partitions page shows its result
    began = time.monotonic()
    graph = ARTIFACTS / "e2e-asset-graph.png"
    partitions = ARTIFACTS / "e2e-market-data-partitions.png"
    driver = chromium_driver()
    try:
        source = screenshot_asset_graph(driver, stack.webserver_url, graph)
        assert "<svg" in source
        assert all(name in source for name in ("market_data", "dividends", "stock_splits", "earnings", "news", "adjustment_factors"))

        source = screenshot_partitions(driver, stack.webserver_url, partitions, materialized=len(SYMBOLS) * SESSIONS)
        assert all(item in source for item in ("market_data", "Partitions", *SYMBOLS, stack.sessions[-1].isoformat()))
    except BaseException:
        with contextlib.suppress(Exception):
            driver.save_screenshot(str(ARTIFACTS / "e2e-failure.png"))
            print(f"page text of {driver.current_url} at the failure:\n{page_text(driver)[:3000]}")
        raise
    finally:
        driver.quit()
    for path in (graph, partitions):
        assert_rendered_png(path)
    stack.timings["screenshots"] = time.monotonic() - began
