"""Failure alerts: a log line always, a JSON POST to a webhook when one is configured."""

from __future__ import annotations

import logging

import httpx

logger = logging.getLogger(__name__)


def build_alert(run_id: str, job_name: str, message: str, partition_range: str | None, dagster_url: str | None) -> dict:
    return {
        "text": f"enrichment_pipeline: run {run_id[:8]} of {job_name} failed: {message}",
        "run_id": run_id,
        "job_name": job_name,
        "partitions": partition_range,
        "error": message,
        "run_url": f"{dagster_url.rstrip('/')}/runs/{run_id}" if dagster_url else None,
    }


def send_alert(alert: dict, webhook_url: str | None, timeout_seconds: float = 10.0) -> bool:
    """Log the alert; POST it to ``webhook_url`` if given. Returns whether the webhook accepted it."""
    logger.error(alert["text"])
    if not webhook_url:
        return False
    try:
        response = httpx.post(webhook_url, json=alert, timeout=timeout_seconds)
        response.raise_for_status()
    except httpx.HTTPError as error:
        # An unreachable alert channel must not hide the original failure; say so and go on.
        logger.error("Could not deliver the failure alert to ENRICHMENT_ALERT_WEBHOOK_URL: %s", type(error).__name__)
        return False
    return True
