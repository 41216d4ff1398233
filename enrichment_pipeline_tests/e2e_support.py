"""Helpers of the end-to-end test: subprocesses, fresh Postgres databases, GraphQL, headless Chromium.

Nothing here knows the pipeline's assets; ``test_end_to_end.py`` holds the scenario.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

T = TypeVar("T")


# ---------------------------------------------------------------- waiting and ports


def free_port() -> int:
    """A TCP port free on loopback right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(probe: Callable[[], T | None], *, timeout: float, interval: float = 0.5, what: str) -> T:
    """Call ``probe`` until it returns something truthy; fail after ``timeout`` seconds.

    Exceptions raised by ``probe`` count as "not yet" (the last one is reported on timeout),
    except ``AssertionError``, which means the awaited thing went wrong for good.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = probe()
            if result:
                return result
        except AssertionError:
            raise
        except Exception as error:  # noqa: BLE001 - "not ready" comes in many shapes
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {type(last_error).__name__}: {last_error})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


# ---------------------------------------------------------------- subprocesses


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # Dagster's coloured log format
LOG_NOISE = ("BetaWarning", "PreviewWarning", "SupersessionWarning", "DeprecationWarning", "warnings.warn(")


class ManagedProcess:
    """A subprocess in its own session, its output in a log file; ``stop()`` ends its whole group.

    Its own process group matters: the webserver and the daemon start gRPC code servers and run
    workers of their own, which must not outlive the test.
    """

    def __init__(self, name: str, command: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_dir: Path):
        self.name = name
        self.command = list(command)
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our own commands
            self.command, cwd=cwd, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self.pgid = self.process.pid  # start_new_session: the leader's pid is the group id

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def assert_running(self) -> None:
        assert self.running, f"{self.name} exited with code {self.process.returncode}:\n{self.tail()}"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 60) -> str:
        """The last ``lines`` lines, without Dagster's beta/preview warnings (the code line each
        warning quotes goes too): those fill a daemon log and hide what went wrong. No colours."""
        kept: list[str] = []
        after_warning = False
        for line in ANSI_ESCAPE.sub("", self.log_text()).splitlines():
            if after_warning and line.startswith(" "):
                continue
            after_warning = any(noise in line for noise in LOG_NOISE)
            if not after_warning and line.strip():
                kept.append(line)
        return "\n".join(kept[-lines:])

    def wait_for_line(self, prefix: str, timeout: float) -> str:
        """The first log line that starts with ``prefix``."""

        def probe() -> str | None:
            for line in self.log_text().splitlines():
                if line.startswith(prefix):
                    return line
            self.assert_running()
            return None

        return wait_for(probe, timeout=timeout, interval=0.1, what=f"{self.name} to print {prefix!r}")

    def _signal_group(self, signum: int) -> bool:
        try:
            os.killpg(self.pgid, signum)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def _group_alive(self) -> bool:
        return self._signal_group(0)

    def stop(self, grace_seconds: float = 15.0) -> None:
        """SIGTERM to the group, then SIGKILL to whatever is left after ``grace_seconds``."""
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None and not self._group_alive():
                break
            time.sleep(0.2)
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self._log.close()


# ---------------------------------------------------------------- Postgres


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str, label: str) -> Iterator[str]:
    """A new empty database on the server of ``admin_url`` (dropped with FORCE afterwards).

    Yields its URL with the driver of ``admin_url``; callers re-spell the driver as needed.
    """
    name = f"ep_e2e_{label}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def with_driver(url: str, drivername: str) -> str:
    """``url`` with another SQLAlchemy driver, e.g. ``postgresql+psycopg2``."""
    return make_url(url).set(drivername=drivername).render_as_string(hide_password=False)


# ---------------------------------------------------------------- GraphQL


class GraphQLError(AssertionError):
    pass


class GraphQL:
    """A bare GraphQL client of the Dagster webserver (POST /graphql)."""

    def __init__(self, base_url: str, timeout: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout)

    def __call__(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = self._client.post("/graphql", json={"query": query, "variables": dict(variables or {})})
        response.raise_for_status()
        payload = response.json()
        if payload.get("errors"):
            raise GraphQLError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def get(self, path: str) -> httpx.Response:
        return self._client.get(path)

    def close(self) -> None:
        self._client.close()


def expect_type(result: Mapping[str, Any], typename: str) -> Mapping[str, Any]:
    """A GraphQL union member, or an assertion error that shows the error member's message."""
    if result.get("__typename") != typename:
        detail = result.get("message") or result
        stack = "".join(result.get("stack") or [])
        raise GraphQLError(f"expected {typename}, got {result.get('__typename')}: {detail}\n{stack}")
    return result


# ---------------------------------------------------------------- headless Chromium


CHROMIUM_BINARY = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--window-size=1600,1000",
)
# Buttons that close Dagster's first-visit dialogs ("Join the Dagster community", news, tours).
DISMISS_LABELS = ("Skip", "Dismiss", "Not now", "No thanks", "Got it", "Close")
ERROR_BANNERS = ("An unexpected error", "Error loading", "Unexpected GraphQL error", "Something went wrong")


def chromium_driver():  # noqa: ANN201 - selenium types are optional here
    """Headless Chromium through the system chromedriver; selenium-manager never downloads."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM_BINARY
    for argument in CHROMIUM_ARGS:
        options.add_argument(argument)
    # Both paths given, so selenium-manager has nothing to look up; SE_OFFLINE forbids downloads anyway.
    with mock.patch.dict(os.environ, {"SE_OFFLINE": "true"}):
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver


def dismiss_dialogs(driver, attempts: int = 3) -> list[str]:  # noqa: ANN001
    """Click the dismiss button of every open dialog; returns what was clicked (maybe nothing)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    labels = " or ".join(f"normalize-space(.)='{label}'" for label in DISMISS_LABELS)
    xpath = f"//*[@role='dialog' or contains(@class,'dialog') or contains(@class,'Dialog')]//button[{labels}]"
    clicked: list[str] = []
    for _ in range(attempts):
        buttons = [button for button in driver.find_elements(By.XPATH, xpath) if button.is_displayed()]
        if not buttons:
            break
        for button in buttons:
            label = button.text.strip()
            with contextlib.suppress(WebDriverException):
                button.click()
                clicked.append(label)
        time.sleep(0.5)  # let the dialog's close animation finish before looking again
    return clicked


def open_dialogs(driver) -> list[str]:  # noqa: ANN001
    """Texts (first line) of the dialogs shown over the page right now."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    texts = []
    for dialog in driver.find_elements(By.XPATH, "//*[@role='dialog']"):
        with contextlib.suppress(WebDriverException):
            if dialog.is_displayed():
                texts.append((dialog.text.strip().splitlines() or ["(empty dialog)"])[0])
    return texts


def page_text(driver) -> str:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def assert_rendered_png(path: Path, min_bytes: int = 20_000) -> None:
    """A real screenshot: big enough and not one flat colour."""
    from PIL import Image, ImageStat

    size = path.stat().st_size
    assert size > min_bytes, f"{path} is only {size} bytes: a blank or broken page?"
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        extrema = rgb.getextrema()
        assert any(low != high for low, high in extrema), f"{path} is a single flat colour {extrema}"
        colours = rgb.getcolors(maxcolors=1_000_000) or []
        assert len(colours) > 20, f"{path} has only {len(colours)} colours: hardly a rendered page"
        spread = ImageStat.Stat(rgb).stddev
        assert max(spread) > 5, f"{path} is nearly uniform (stddev {spread})"
