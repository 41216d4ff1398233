"""Dagster resource for the enrichment database (SQLAlchemy)."""


from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field
from sqlalchemy import Engine

from enrichment_pipeline.storage.engine import get_engine
from enrichment_pipeline.storage.migrate import ensure_schema


class DatabaseResource(ConfigurableResource):
    """The database the enrichment tables live in (``DATABASE_URL``; SQLite or PostgreSQL).

    The schema is migrated to the newest revision the first time a process opens it.
    """

    url: str = Field(description="SQLAlchemy URL of the data database, e.g. sqlite:////path/enrichment.db or postgresql://user@host/db")

    @property
    def engine(self) -> Engine:
        engine = get_engine(self.url)
        ensure_schema(engine)
        return engine

    def setup_for_execution(self, context: InitResourceContext) -> None:
        ensure_schema(get_engine(self.url))
