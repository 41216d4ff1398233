"""Shared fixtures: databases on SQLite and on the real PostgreSQL server, the simulator."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# Tests never touch the user's data folder or Dagster home.
os.environ.setdefault("ENRICHMENT_START_DATE", "2024-01-02")
os.environ.setdefault("ENRICHMENT_RETRY_DELAY_SECONDS", "0.1")
for variable in ("POLYGON_API_KEY", "MASSIVE_API_KEY", "POLYGON_BASE_URL", "DATABASE_URL", "POLYGON_RATE_LIMIT_PER_MINUTE"):
    os.environ.pop(variable, None)

POSTGRES_ADMIN_URL = os.environ.get("ENRICHMENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO_ROOT = Path(__file__).resolve().parents[1]


def _postgres_unavailable_reason() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # noqa: BLE001 - any failure means "no server"
        return f"PostgreSQL at {make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)} unreachable: {error}"


_POSTGRES_PROBLEM = _postgres_unavailable_reason()


def require_postgres() -> None:
    """In CI a missing PostgreSQL is a failure; on a laptop without one it is a visible skip."""
    if _POSTGRES_PROBLEM is None:
        return
    if os.environ.get("CI"):
        pytest.fail(_POSTGRES_PROBLEM + " (CI=true: the Postgres tests must run)")
    pytest.skip(_POSTGRES_PROBLEM)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    require_postgres()
    name = f"ep_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from enrichment_pipeline.storage.engine import dispose_engines

        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'enrichment.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on the real PostgreSQL server."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(database_url: str):  # noqa: ANN201
    from enrichment_pipeline.storage.engine import get_engine
    from enrichment_pipeline.storage.migrate import ensure_schema

    engine = get_engine(database_url)
    ensure_schema(engine)
    return engine


@pytest.fixture
def simulator_server():
    """The project's Polygon simulator served on a free loopback port (fresh per test)."""
    from enrichment_pipeline.simulator.server import start_in_thread

    server, base_url = start_in_thread(port=0)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def dagster_instance():
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def persistent_instance():
    """A SQLite-backed instance with an instance ref, as schedules and sensors need."""
    from dagster import instance_for_test

    with instance_for_test() as instance:
        yield instance
