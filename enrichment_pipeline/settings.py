"""Settings read from the environment, validated once, with messages that say what to fix.

Everything a user tunes lives here under an ``ENRICHMENT_``/``POLYGON_``/``DATABASE_`` name;
the README lists them.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from enrichment_pipeline.symbols import parse_symbol_list

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The checkout the package was installed from (editable install), else the working directory."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").exists():
        return candidate
    return Path.cwd()


DEFAULT_SYMBOLS = "AAPL,MSFT,NVDA"
DEFAULT_SCHEDULE_CRON = "30 1 * * *"
DEFAULT_SCHEDULE_TIMEZONE = "UTC"
DEFAULT_OPTIONS_RETENTION_DAYS = 90


class SettingsError(ValueError):
    """A setting from the environment that cannot be used as given."""


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else None


def data_dir() -> Path:
    return Path(_env("ENRICHMENT_DATA_DIR") or project_root() / "data")


def database_url() -> str:
    """``DATABASE_URL``, default a SQLite file in the project's data folder."""
    url = _env("DATABASE_URL")
    if url is None:
        path = data_dir() / "enrichment.db"
        return f"sqlite:///{path}"
    return normalize_database_url(url)


def normalize_database_url(url: str) -> str:
    """Map the bare ``postgres(ql)://`` spellings to psycopg 3, which the data layer uses."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if "://" not in url:
        raise SettingsError(
            f"DATABASE_URL {redact_url(url)!r} is not a URL: use e.g. sqlite:////abs/path/enrichment.db "
            "or postgresql://user@127.0.0.1:5432/dbname"
        )
    return url


def redact_url(url: str) -> str:
    """A database URL with its password replaced, fit for messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1] if "@" in url else url


def watchlist() -> list[str]:
    """``ENRICHMENT_SYMBOLS``: the symbols the schedules cover (comma-separated tickers)."""
    return parse_symbol_list(_env("ENRICHMENT_SYMBOLS") or DEFAULT_SYMBOLS)


def parse_date_setting(name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not a date: use YYYY-MM-DD, e.g. 2024-01-02.") from None


def default_start_date(today: dt.date | None = None) -> dt.date:
    # January 1st two years back: "about two years" of history, and stable for a whole year so
    # the partition set does not shift every day.
    today = today or dt.date.today()
    return dt.date(today.year - 2, 1, 1)


def enrichment_start_date() -> dt.date:
    raw = _env("ENRICHMENT_START_DATE")
    start = parse_date_setting("ENRICHMENT_START_DATE", raw) if raw else default_start_date()
    if start > dt.date.today():
        raise SettingsError(f"ENRICHMENT_START_DATE={start} is in the future: history must start on or before today.")
    if start < dt.date(2000, 1, 3):
        raise SettingsError(f"ENRICHMENT_START_DATE={start} is before 2000-01-03, the first day the pipeline serves.")
    return start


def schedule_cron() -> str:
    from dagster._utils.schedules import is_valid_cron_string

    cron = _env("ENRICHMENT_SCHEDULE_CRON") or DEFAULT_SCHEDULE_CRON
    if not is_valid_cron_string(cron):
        raise SettingsError(
            f"ENRICHMENT_SCHEDULE_CRON={cron!r} is not a valid cron string: use five fields, "
            "minute hour day-of-month month day-of-week, e.g. '30 1 * * *' for 01:30 every day."
        )
    return cron


def schedule_timezone() -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    zone = _env("ENRICHMENT_SCHEDULE_TIMEZONE") or DEFAULT_SCHEDULE_TIMEZONE
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"ENRICHMENT_SCHEDULE_TIMEZONE={zone!r} is not an IANA time zone: use e.g. UTC or America/New_York."
        ) from None
    return zone


def positive_int_setting(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number: give e.g. {default}.") from None
    if value <= 0:
        raise SettingsError(f"{name}={value} must be positive: give e.g. {default}.")
    return value


def options_retention_days() -> int:
    return positive_int_setting("ENRICHMENT_OPTIONS_RETENTION_DAYS", DEFAULT_OPTIONS_RETENTION_DAYS)


def options_archive_dir() -> Path:
    return Path(_env("ENRICHMENT_OPTIONS_ARCHIVE_DIR") or data_dir() / "options_archive")


def alert_webhook_url() -> str | None:
    return _env("ENRICHMENT_ALERT_WEBHOOK_URL")


def polygon_api_key_variable() -> str | None:
    """Name of the environment variable holding the key: POLYGON_API_KEY, else MASSIVE_API_KEY."""
    for name in ("POLYGON_API_KEY", "MASSIVE_API_KEY"):
        if _env(name):
            return name
    return None


def polygon_rate_limit_per_minute() -> float:
    """``POLYGON_RATE_LIMIT_PER_MINUTE``: 5 (free plan) with a key; no limit for the in-process simulator."""
    raw = _env("POLYGON_RATE_LIMIT_PER_MINUTE")
    if raw is None:
        return 5.0 if (polygon_api_key_variable() or _env("POLYGON_BASE_URL")) else 0.0
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(
            f"POLYGON_RATE_LIMIT_PER_MINUTE={raw!r} is not a number: use 5 for the free plan, e.g. 6000 for a paid one, 0 for no limit."
        ) from None
    if value < 0:
        raise SettingsError(f"POLYGON_RATE_LIMIT_PER_MINUTE={value:g} must be 0 (no limit) or positive.")
    return value


def float_setting(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number: give e.g. {default:g}.") from None
    if value <= 0:
        raise SettingsError(f"{name}={value:g} must be positive: give e.g. {default:g}.")
    return value
