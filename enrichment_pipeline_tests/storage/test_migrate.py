from sqlalchemy import inspect

from enrichment_pipeline.storage.engine import create_database_engine
from enrichment_pipeline.storage.migrate import current_revision, head_revision, upgrade_database
from enrichment_pipeline.storage.schema import metadata


def test_migrations_create_every_table_with_its_columns(database_url):
    engine = create_database_engine(database_url)
    assert current_revision(engine) is None
    upgrade_database(engine)
    assert current_revision(engine) == head_revision()
    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        assert columns == {column.name for column in table.columns}, table.name
        assert set(inspector.get_pk_constraint(table.name)["constrained_columns"]) == {c.name for c in table.primary_key.columns}
    engine.dispose()


def test_upgrading_twice_is_harmless(database_url):
    engine = create_database_engine(database_url)
    upgrade_database(engine)
    upgrade_database(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_the_schema_matches_the_models_exactly(database_url):
    """Alembic's autogenerate finds nothing to add: migrations and schema.py agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = create_database_engine(database_url)
    upgrade_database(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    engine.dispose()
