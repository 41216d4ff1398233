"""The API key reaches the vendor in the Authorization header and nowhere else: not in a log
line, an event, run tags or config, a table, an exception or a URL — through retries, 429s,
5xx, dropped connections, bad bodies, rejected records and a 401 with a wrong key."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest
from dagster import AssetKey, EnvVar, instance_for_test
from dagster._serdes import serialize_value
from sqlalchemy import select

from enrichment_pipeline.storage import schema
from enrichment_pipeline.storage.engine import get_engine
from enrichment_pipeline_tests.faults.support import (
    AS_OF,
    NEWS,
    aggs_prefix,
    error_text,
    run_assets,
    step_retries,
)
from enrichment_pipeline_tests.security.conftest import RecordingSimulator, serve

pytestmark = pytest.mark.security

DEBUG_CONSOLE = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}


def _database_text(database_url: str) -> str:
    """Every value of every column of every table of the data database, as text."""
    lines = []
    with get_engine(database_url).connect() as connection:
        for table in schema.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                lines.append(f"{table.name}: " + " | ".join(str(value) for value in row))
    return "\n".join(lines)


def _files_containing(root: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            hits.extend(f"{path} contains {needle!r}" for needle in needles if needle in content)
    return hits


def test_the_api_key_never_leaves_the_authorization_header(database_url, tmp_path, monkeypatch, caplog, capfd):
    key = f"sk-test-ZZZ-{uuid.uuid4()}"
    wrong_key = f"sk-test-YYY-{uuid.uuid4()}"
    secrets = [key, wrong_key, key.rsplit("-", 1)[1], wrong_key.rsplit("-", 1)[1]]  # and their tails alone
    caplog.set_level(logging.DEBUG)  # httpx, httpcore, tenacity, ours: everything at DEBUG
    server = serve(RecordingSimulator(api_key=key, as_of=AS_OF))
    sim = server.simulator
    (tmp_path / "dagster_home").mkdir()
    try:
        with instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
            # As in production: the resource reads the key through EnvVar.
            monkeypatch.setenv("POLYGON_API_KEY", key)
            sim.faults.fail_next(1, status=429, retry_after=1, path_prefix=aggs_prefix("AAPL"))
            sim.faults.fail_next(1, status=500, path_prefix=aggs_prefix("MSFT"))
            sim.faults.fail_next(1, status=502, path_prefix=aggs_prefix("MSFT"))
            sim.faults.reset_connection_next(1, path_prefix=NEWS)
            sim.faults.malformed_json_next(1, path_prefix=NEWS)
            sim.faults.fail_next(6, status=503, path_prefix=NEWS)  # outlasts the client: a step retry
            sim.faults.bad_records_for_symbols = {"MSFT"}  # rejected_records gets rows
            good = run_assets(database_url, server.base_url, instance, api_key=EnvVar("POLYGON_API_KEY"), run_config=DEBUG_CONSOLE)
            assert good.success, error_text(good)
            assert step_retries(good, "news") >= 1
            good_requests = sim.stats.total_requests

            monkeypatch.setenv("POLYGON_API_KEY", wrong_key)
            sim.faults.clear()
            wrong = run_assets(database_url, server.base_url, instance, api_key=EnvVar("POLYGON_API_KEY"), run_config=DEBUG_CONSOLE)
            assert not wrong.success

            haystacks: dict[str, str] = {}
            for result in (good, wrong):
                run_id = result.run_id
                records = instance.all_logs(run_id)
                haystacks[f"event log of {run_id}"] = serialize_value(records) + "\n".join(str(r) for r in records)
                haystacks[f"run {run_id} (tags, config)"] = serialize_value(instance.get_run_by_id(run_id))
                haystacks[f"errors of {run_id}"] = error_text(result)
            haystacks["asset materializations"] = serialize_value(
                [record for key in ("market_data", "news")
                 for record in instance.fetch_materializations(AssetKey(key), limit=1000).records]
            )
    finally:
        server.close()

    out, err = capfd.readouterr()
    haystacks["stdout and stderr (Dagster console log at DEBUG)"] = out + err
    formatter = logging.Formatter()
    haystacks["Python logging at DEBUG"] = "\n".join(
        record.getMessage() + (formatter.formatException(record.exc_info) if record.exc_info else "")
        for record in caplog.records
    )
    haystacks["data database"] = _database_text(database_url)
    compute_logs = sorted((tmp_path / "dagster_home" / "storage").rglob("compute_logs/*"))
    haystacks["compute logs"] = "\n".join(path.read_text(errors="replace") for path in compute_logs if path.is_file())
    haystacks["simulator's recorded requests"] = json.dumps(sim.stats.snapshot())

    # The search is not vacuous: the failures and retries are in what was searched.
    assert "HTTP 401: Unknown API Key (check POLYGON_API_KEY / MASSIVE_API_KEY)" in haystacks["data database"]  # enrichment_status.last_error
    assert "HTTP 401: Unknown API Key" in haystacks[f"errors of {wrong.run_id}"]
    assert "HTTP 429" in haystacks["data database"] and "HTTP 503" in haystacks["data database"]  # fetch log
    assert "rejected_records: market_data" in haystacks["data database"]
    assert "HTTP 401: Unknown API Key" in haystacks["compute logs"]  # Dagster captured the steps' output
    assert "STEP_UP_FOR_RETRY" in haystacks[f"event log of {good.run_id}"]
    assert "attempt 1 failed: HTTP 429" in haystacks["Python logging at DEBUG"]
    assert "HTTP Request: GET" in haystacks["Python logging at DEBUG"]  # httpx's own DEBUG/INFO lines

    leaks = [f"{name} contains {secret!r}" for name, text in haystacks.items() for secret in secrets if secret in text]
    # Every file Dagster wrote (run and event storage, compute logs) and the SQLite data files.
    leaks += _files_containing(tmp_path, [secret.encode() for secret in secrets])
    assert leaks == []

    # ... while the key did reach the vendor, on every request, in the Authorization header only.
    assert sim.authorizations[:good_requests] == [f"Bearer {key}"] * good_requests
    assert set(sim.authorizations[good_requests:]) == {f"Bearer {wrong_key}"}
    assert sim.stats.by_status.get(401, 0) == len(sim.authorizations) - good_requests >= 1
