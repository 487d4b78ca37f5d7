"""UTC timestamps as Caliper writes them: parse strictly, format one way."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from timeledger.caliper.bounds import year_problem

_UTC_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]00:?00)$"
)


class TimeFormatError(ValueError):
    """A timestamp that is not ISO-8601 in UTC."""


def parse_utc(value: object) -> datetime:
    """Parse `2025-01-15T10:05:00.000Z` (fraction optional, `Z` or `+00:00`), always aware, in the
    years the platform reads (bounds.py): event times, send times, windows, query ranges."""
    moment = parse_utc_any_year(value)
    problem = year_problem(moment)
    if problem is not None:
        raise TimeFormatError(f"Invalid datetime {value!r}: {problem}")
    return moment


def parse_utc_any_year(value: object) -> datetime:
    """`parse_utc` without the year bound: for Caliper date-time properties the platform only
    stores (a book's `datePublished` may well be 1865)."""
    if not isinstance(value, str):
        raise TimeFormatError("Expected an ISO-8601 UTC timestamp string")
    return _parse_utc_text(value)


@lru_cache(maxsize=8192)  # a window's items repeat its start and end times
def _parse_utc_text(value: str) -> datetime:
    match = _UTC_TIME.match(value)
    if match is None:
        raise TimeFormatError(
            f"Invalid datetime {value!r}: expected ISO-8601 in UTC, like 2025-01-15T10:05:00.000Z"
        )
    year, month, day, hour, minute, second, fraction, _zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=UTC
        )
    except ValueError as exc:
        raise TimeFormatError(f"Invalid datetime {value!r}: {exc}") from None


def format_utc(moment: datetime) -> str:
    """Format as `2025-01-15T10:05:00.000Z` (milliseconds, always UTC, four-digit years)."""
    if moment.tzinfo is None:
        raise ValueError("format_utc needs an aware datetime")
    m = moment.astimezone(UTC)
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
            f"{m.microsecond // 1000:03d}Z")


def from_epoch_ms(ms: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def to_epoch_ms(moment: datetime) -> float:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1)
