"""Schema migrations (Alembic), applied automatically when a resource first opens the database
and on demand with ``enrichment-pipeline db upgrade``."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from enrichment_pipeline.settings import SettingsError, redact_url

ALEMBIC_INI = Path(__file__).resolve().parent / "alembic.ini"
# Any constant works; it only has to be the same for every process migrating this database.
POSTGRES_MIGRATION_LOCK_ID = 7_304_512_009

_migrated: set[str] = set()
_lock = threading.Lock()


def alembic_config() -> Config:
    return Config(str(ALEMBIC_INI))


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _unreachable(engine: Engine, error: OperationalError) -> SettingsError:
    return SettingsError(
        f"Cannot reach the database at {redact_url(str(engine.url))}: {error.orig}. "
        "Check DATABASE_URL (host, port, database name) and that the server is running."
    )


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as error:
        raise _unreachable(engine, error) from None


def upgrade_database(engine: Engine) -> str:
    """Bring the schema to the newest revision; safe when several processes start at once."""
    config = alembic_config()
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": POSTGRES_MIGRATION_LOCK_ID})
                connection.commit()
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
            finally:
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": POSTGRES_MIGRATION_LOCK_ID})
                    connection.commit()
    except OperationalError as error:
        raise _unreachable(engine, error) from None
    return head_revision()


def ensure_schema(engine: Engine) -> None:
    """Migrate once per process and database."""
    key = str(engine.url)
    with _lock:
        if key in _migrated:
            return
        upgrade_database(engine)
        _migrated.add(key)
