"""Options retention: old options_iv rows go to Parquet, then leave the table."""

import datetime as dt

import pandas as pd
from sqlalchemy import select

from enrichment_pipeline.resources.database import DatabaseResource
from enrichment_pipeline.retention import options_retention_job
from enrichment_pipeline.storage import schema
from enrichment_pipeline.storage.engine import get_engine
from enrichment_pipeline.storage.migrate import ensure_schema

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def option_row(day: dt.date, contract: str) -> dict:
    return {
        "symbol": "AAPL", "date": day, "contract": contract, "expiration_date": day + dt.timedelta(days=30), "strike": 100.0,
        "contract_type": "call", "exercise_style": "american", "price": 2.5, "volume": 10.0, "open_interest": 100.0,
        "underlying_price": 101.0, "implied_volatility": 0.3, "delta": 0.5, "gamma": 0.05, "theta_per_day": -0.02,
        "vega_per_vol_point": 0.1, "is_simulated": True, "fetched_at": NOW,
    }


def test_rows_older_than_the_window_are_archived_then_deleted(database_url, tmp_path, monkeypatch):
    today = dt.date.today()
    old_days = [today - dt.timedelta(days=200), today - dt.timedelta(days=120)]
    recent_day = today - dt.timedelta(days=10)
    engine = get_engine(database_url)
    ensure_schema(engine)
    rows = [option_row(d, f"O:AAPL{i}") for d in old_days + [recent_day] for i in range(3)]
    with engine.begin() as connection:
        connection.execute(schema.options_iv.insert(), rows)
    monkeypatch.setenv("ENRICHMENT_OPTIONS_RETENTION_DAYS", "90")
    monkeypatch.setenv("ENRICHMENT_OPTIONS_ARCHIVE_DIR", str(tmp_path / "archive"))
    result = options_retention_job.execute_in_process(resources={"database": DatabaseResource(url=database_url)})
    assert result.success
    with engine.connect() as connection:
        left = sorted(set(connection.execute(select(schema.options_iv.c.date)).scalars()))
    assert left == [recent_day]
    files = sorted((tmp_path / "archive" / "options_iv").glob("*.parquet"))
    assert [f.name for f in files] == [f"date={d.isoformat()}.parquet" for d in old_days]
    archived = pd.concat(pd.read_parquet(f) for f in files)
    assert len(archived) == 6 and set(archived["contract"]) == {"O:AAPL0", "O:AAPL1", "O:AAPL2"}
    assert archived["implied_volatility"].tolist() == [0.3] * 6
    # A second run has nothing left to move and keeps the archive intact.
    again = options_retention_job.execute_in_process(resources={"database": DatabaseResource(url=database_url)})
    assert again.output_for_node("archive_and_delete_old_options") == 0
    assert len(pd.concat(pd.read_parquet(f) for f in files)) == 6
