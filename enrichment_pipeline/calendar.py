"""The exchange calendar (NYSE, from ``exchange_calendars``) that defines a trading day.

Every date dimension of the project — partitions, simulator bars, news roll-forward — asks
this module, so "trading day" has one meaning everywhere.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import exchange_calendars
import pandas as pd

EXCHANGE = "XNYS"
EXCHANGE_TIMEZONE = "America/New_York"
# exchange_calendars builds 20 years back by default; the simulator serves from 2000 on.
CALENDAR_START = "2000-01-03"
CALENDAR_END_YEARS_AHEAD = 2


@lru_cache(maxsize=1)
def exchange_calendar() -> exchange_calendars.ExchangeCalendar:
    end = f"{dt.date.today().year + CALENDAR_END_YEARS_AHEAD}-12-31"
    return exchange_calendars.get_calendar(EXCHANGE, start=CALENDAR_START, end=end)


def _as_date(value: dt.date | str | pd.Timestamp) -> dt.date:
    return pd.Timestamp(value).date()


def _sessions_in_range(start: dt.date | str, end: dt.date | str) -> pd.DatetimeIndex:
    calendar = exchange_calendar()
    first, last = calendar.first_session.date(), calendar.last_session.date()
    start, end = max(_as_date(start), first), min(_as_date(end), last)
    if start > end:
        return pd.DatetimeIndex([])
    return calendar.sessions_in_range(start, end)


def trading_days(start: dt.date | str, end: dt.date | str) -> list[dt.date]:
    """Sessions from ``start`` to ``end``, both inclusive."""
    sessions = _sessions_in_range(start, end)
    return [ts.date() for ts in sessions]


def is_trading_day(day: dt.date | str) -> bool:
    return exchange_calendar().is_session(pd.Timestamp(_as_date(day)))


def non_trading_weekdays(start: dt.date | str, end: dt.date | str) -> list[dt.date]:
    """Monday–Friday dates on which the exchange is closed (holidays and ad-hoc closures)."""
    weekdays = pd.bdate_range(_as_date(start), min(_as_date(end), exchange_calendar().last_session.date()))
    sessions = _sessions_in_range(start, end)
    return [ts.date() for ts in weekdays.difference(sessions)]


def session_on_or_after(day: dt.date | str) -> dt.date:
    return exchange_calendar().date_to_session(pd.Timestamp(_as_date(day)), direction="next").date()


def session_on_or_before(day: dt.date | str) -> dt.date:
    return exchange_calendar().date_to_session(pd.Timestamp(_as_date(day)), direction="previous").date()


def previous_session(day: dt.date | str) -> dt.date:
    return exchange_calendar().previous_session(pd.Timestamp(session_on_or_after(day))).date()


def latest_closed_session(now: dt.datetime | None = None) -> dt.date:
    """The most recent session whose regular close has passed at ``now`` (UTC, default: now)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    calendar = exchange_calendar()
    minute = pd.Timestamp(now).tz_convert("UTC") if pd.Timestamp(now).tzinfo else pd.Timestamp(now, tz="UTC")
    today = session_on_or_before(minute.tz_convert(EXCHANGE_TIMEZONE).date())
    if calendar.session_close(pd.Timestamp(today)) <= minute:
        return today
    return calendar.previous_session(pd.Timestamp(today)).date()


def latest_partitioned_session(now: dt.datetime | None = None) -> dt.date:
    """The most recent session that is closed *and* has a Dagster partition.

    A day's partition window ends at 00:00 UTC the next day, a few hours after the 16:00 New
    York close; between the two, the session is closed but its partition does not exist yet.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    utc_today = pd.Timestamp(now).tz_convert("UTC").date() if pd.Timestamp(now).tzinfo else pd.Timestamp(now).date()
    return min(latest_closed_session(now), session_on_or_before(utc_today - dt.timedelta(days=1)))


def trading_day_of(timestamp: dt.datetime) -> dt.date:
    """Trading day a UTC timestamp belongs to: its New York calendar date, rolled forward to
    the next session when that date is a weekend or holiday."""
    local_date = pd.Timestamp(timestamp).tz_convert(EXCHANGE_TIMEZONE).date()
    return session_on_or_after(local_date)
