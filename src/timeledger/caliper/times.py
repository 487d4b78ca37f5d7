"""UTC timestamps as Caliper writes them: parse strictly, format one way."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from timeledger.caliper.bounds import year_problem

_UTC_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]00:?00)$"
)
_CANONICAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z\Z")
"""The form `format_utc` writes (every browser's `toISOString()` too): `datetime.fromisoformat`
reads it to the same moment at a third of the cost of the groups of `_UTC_TIME`."""


MAX_REMEMBERED_TEXTS = 8192
"""At most this many moments keep their text (`format_utc`); past it the memory starts over."""
_CANONICAL_LENGTH = len("2025-01-15T10:05:00.000Z")

_texts: dict[datetime, str] = {}
"""The text of each moment formatted or parsed from its own text lately. An adapter heartbeat's
times arrive as that text and are written out again three times (event time, window, event id);
keyed by the moment, so an equal instant in another zone finds the same UTC text."""


def _remember(moment: datetime, text: str) -> None:
    if len(_texts) >= MAX_REMEMBERED_TEXTS:
        _texts.clear()
    _texts[moment] = text


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
    if _CANONICAL_TIME.match(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass  # no such day or time: the general reading below says what is wrong
        else:
            _remember(moment, value)
            return moment
    match = _UTC_TIME.match(value)
    if match is None:
        raise TimeFormatError(
            f"Invalid datetime {value!r}: expected ISO-8601 in UTC, like 2025-01-15T10:05:00.000Z"
        )
    year, month, day, hour, minute, second, fraction, _zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=UTC
        )
    except ValueError as exc:
        raise TimeFormatError(f"Invalid datetime {value!r}: {exc}") from None
    # Already as format_utc writes it (`$` also matches before a final newline, `\d` any digit).
    if len(value) == _CANONICAL_LENGTH and value[-1] == "Z" and value.isascii():
        _remember(moment, value)
    return moment


def format_utc(moment: datetime) -> str:
    """Format as `2025-01-15T10:05:00.000Z` (milliseconds, always UTC, four-digit years)."""
    text = _texts.get(moment)
    if text is None:
        if moment.tzinfo is None:
            raise ValueError("format_utc needs an aware datetime")
        m = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
        # printf-style: about half the instructions of f-string format specs (a miss per window)
        text = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
            m.year, m.month, m.day, m.hour, m.minute, m.second, m.microsecond // 1000)
        _remember(moment, text)
    return text


def from_epoch_ms(ms: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def to_epoch_ms(moment: datetime) -> float:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1)
