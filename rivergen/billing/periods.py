"""Billing periods: calendar months in UTC, named by their first day."""

from __future__ import annotations

from datetime import UTC, date, datetime


def period_of(moment: datetime) -> date:
    """The first day of the UTC month of an aware ``moment``."""
    if moment.tzinfo is None:
        raise ValueError("period_of needs a timezone-aware datetime")
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def current_period() -> date:
    return period_of(datetime.now(UTC))


def as_period(day: date) -> date:
    """The period ``day`` falls in."""
    return day.replace(day=1)
