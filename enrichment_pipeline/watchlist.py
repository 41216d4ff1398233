"""The watchlist: which symbols the schedules cover.

``ENRICHMENT_SYMBOLS`` seeds it; ``enrichment-pipeline symbols add|remove`` edits it. The
``watchlist`` table holds the result so every process (sensor, CLI, webserver) agrees.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from enrichment_pipeline.storage.schema import watchlist
from enrichment_pipeline.symbols import parse_symbol_list


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _upsert(engine: Engine):  # noqa: ANN202
    return (postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert)(watchlist)


def reconcile_with_environment(engine: Engine, env_symbols: Iterable[str]) -> list[str]:
    """Add new ENRICHMENT_SYMBOLS, retire env symbols no longer listed; return the active symbols."""
    wanted = parse_symbol_list(list(env_symbols))
    now = _now()
    with engine.begin() as connection:
        known = {row.symbol: row for row in connection.execute(select(watchlist))}
        new_rows = [{"symbol": s, "source": "env", "active": True, "updated_at": now} for s in wanted if s not in known]
        if new_rows:
            connection.execute(watchlist.insert(), new_rows)
        retired = [s for s, row in known.items() if row.source == "env" and row.active and s not in wanted]
        if retired:
            connection.execute(update(watchlist).where(watchlist.c.symbol.in_(retired)).values(active=False, updated_at=now))
    return active_symbols(engine)


def active_symbols(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(watchlist.c.symbol).where(watchlist.c.active.is_(True)).order_by(watchlist.c.symbol)).scalars())


def set_active(engine: Engine, symbols: Iterable[str], active: bool) -> list[str]:
    """Add (``active=True``) or remove symbols by hand; the choice outlives ENRICHMENT_SYMBOLS."""
    chosen = parse_symbol_list(list(symbols))
    insert = _upsert(engine)
    now = _now()
    with engine.begin() as connection:
        connection.execute(
            insert.on_conflict_do_update(index_elements=["symbol"], set_={"source": "cli", "active": active, "updated_at": now}),
            [{"symbol": s, "source": "cli", "active": active, "updated_at": now} for s in chosen],
        )
    return chosen
