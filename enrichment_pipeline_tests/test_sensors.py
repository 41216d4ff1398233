"""Sensors: the watchlist keeps `symbols` in step; failed runs raise alerts to a webhook."""

import datetime as dt
import http.server
import json
import logging
import threading

import pytest
from dagster import AssetKey, build_run_status_sensor_context, build_sensor_context
from sqlalchemy import func, select

from enrichment_pipeline.assets.vendor import market_data
from enrichment_pipeline.calendar import latest_partitioned_session, trading_days
from enrichment_pipeline.definitions import defs
from enrichment_pipeline.partitions import symbol_partitions
from enrichment_pipeline.resources.database import DatabaseResource
from enrichment_pipeline.sensors import run_failure_alert_sensor, watchlist_sensor
from enrichment_pipeline.storage import schema
from enrichment_pipeline.storage.engine import get_engine
from enrichment_pipeline_tests.dagster_helpers import materialize_range, resources_for


def tick(instance, database_url: str, cursor: str | None = None):  # noqa: ANN001, ANN201
    context = build_sensor_context(
        instance=instance, cursor=cursor, repository_def=defs.get_repository_def(),
        resources={"database": DatabaseResource(url=database_url)},
    )
    result = watchlist_sensor(context)
    for request in result.dynamic_partitions_requests or []:
        if type(request).__name__ == "AddDynamicPartitionsRequest":
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    return result


def test_new_symbols_become_partitions_then_get_a_backfill_from_the_start_date(persistent_instance, sqlite_url, monkeypatch):
    monkeypatch.setenv("ENRICHMENT_SYMBOLS", "AAPL,MSFT")
    monkeypatch.setenv("ENRICHMENT_START_DATE", "2025-06-02")
    first = tick(persistent_instance, sqlite_url)
    assert persistent_instance.get_dynamic_partitions(symbol_partitions.name) == ["AAPL", "MSFT"]
    assert first.run_requests == []  # the backfill waits until the partitions exist
    second = tick(persistent_instance, sqlite_url, first.cursor)
    [backfill] = second.run_requests
    subset = backfill.asset_graph_subset
    sessions = trading_days("2025-06-02", latest_partitioned_session())
    market = subset.get_partitions_subset(AssetKey("market_data"))
    assert len(market) == 2 * len(sessions)
    assert "2025-06-02|AAPL" in market.get_partition_keys() and f"{sessions[-1]}|MSFT" in market.get_partition_keys()
    # the option snapshot only exists for the latest session
    assert sorted(subset.get_partitions_subset(AssetKey("options_iv")).get_partition_keys()) == [f"{sessions[-1]}|AAPL", f"{sessions[-1]}|MSFT"]
    assert tick(persistent_instance, sqlite_url, second.cursor).run_requests == []  # only once


def test_removing_a_symbol_stops_scheduling_it_and_keeps_its_data(persistent_instance, sqlite_url, monkeypatch, simulator_server):
    monkeypatch.setenv("ENRICHMENT_SYMBOLS", "AAPL,MSFT")
    cursor = tick(persistent_instance, sqlite_url, tick(persistent_instance, sqlite_url).cursor).cursor
    day = trading_days("2025-03-03", "2025-03-03")[0]
    assert materialize_range([market_data], resources_for(sqlite_url, base_url=simulator_server.base_url), persistent_instance, ["AAPL", "MSFT"], day, day).success
    monkeypatch.setenv("ENRICHMENT_SYMBOLS", "AAPL")
    result = tick(persistent_instance, sqlite_url, cursor)
    assert result.run_requests == []
    assert persistent_instance.get_dynamic_partitions(symbol_partitions.name) == ["AAPL"]
    with get_engine(sqlite_url).connect() as connection:
        assert connection.execute(select(func.count()).select_from(schema.market_data).where(schema.market_data.c.symbol == "MSFT")).scalar_one() == 1


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):  # noqa: ANN002
        pass


@pytest.fixture
def webhook():
    _Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", _Receiver.received
    server.shutdown()
    server.server_close()


def failed_run(instance, sqlite_url: str):  # noqa: ANN001, ANN201
    from enrichment_pipeline.simulator.server import start_in_thread

    server, base_url = start_in_thread(port=0, api_key="right-key-1234")
    try:
        day = dt.date(2025, 3, 3)
        result = materialize_range([market_data], resources_for(sqlite_url, base_url=base_url, api_key="wrong-key-5678"), instance, ["AAPL"], day, day, raise_on_error=False)
    finally:
        server.close()
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = [e for e in instance.all_logs(result.run_id) if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_FAILURE"][0]
    return run, failure


def test_a_failed_run_posts_an_alert_and_logs_it(persistent_instance, sqlite_url, webhook, monkeypatch, caplog):
    url, received = webhook
    monkeypatch.setenv("ENRICHMENT_ALERT_WEBHOOK_URL", url)
    run, failure = failed_run(persistent_instance, sqlite_url)
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_instance=persistent_instance, dagster_run=run, dagster_event=failure.dagster_event,
    ).for_run_failure()
    with caplog.at_level(logging.ERROR, logger="enrichment_pipeline.alerts"):
        run_failure_alert_sensor(context)
    assert len(received) == 1
    alert = received[0]
    assert alert["run_id"] == run.run_id and alert["partitions"] == "2025-03-03|AAPL..2025-03-03|AAPL"
    assert run.run_id[:8] in alert["text"] and "failed" in alert["text"]
    assert "wrong-key-5678" not in json.dumps(alert)
    assert any(run.run_id[:8] in record.getMessage() for record in caplog.records)


def test_without_a_webhook_the_alert_is_a_log_line(persistent_instance, sqlite_url, monkeypatch, caplog, webhook):
    _, received = webhook
    monkeypatch.delenv("ENRICHMENT_ALERT_WEBHOOK_URL", raising=False)
    run, failure = failed_run(persistent_instance, sqlite_url)
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_instance=persistent_instance, dagster_run=run, dagster_event=failure.dagster_event,
    ).for_run_failure()
    with caplog.at_level(logging.ERROR, logger="enrichment_pipeline.alerts"):
        run_failure_alert_sensor(context)
    assert received == []
    assert any("failed" in record.getMessage() for record in caplog.records)
