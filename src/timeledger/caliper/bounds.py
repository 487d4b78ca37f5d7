"""The bounds no honest app reaches, in one home: the SDK, adapter and platform all check these."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

#: Times are in these years (inclusive), always written with four digits.
MIN_YEAR = 1970
MAX_YEAR = 2999
#: One window (startDate..endDate, startedAt..endedAt) spans at most this long.
MAX_WINDOW_SECONDS = 86_400
MAX_WINDOW = timedelta(seconds=MAX_WINDOW_SECONDS)
MAX_WINDOW_MS = MAX_WINDOW_SECONDS * 1000
#: The time reported in a window may exceed the window's length by this much (clock rounding).
WINDOW_SLACK_MS = 1000
#: `xpEarned` lies within ±MAX_XP (negative XP is a correction).
MAX_XP = 1_000_000
#: Question and unit counts lie within 0..MAX_COUNT.
MAX_COUNT = 1_000_000
#: `pctComplete` / `pctCompleteApp` lie within 0..MAX_PCT.
MAX_PCT = 100
#: `attempt` lies within 1..MAX_ATTEMPT.
MAX_ATTEMPT = 1_000_000
#: A runId that is not a UUID (an app's own key, e.g. an assignment row id) has 1..MAX_RUN_KEY_CHARS
#: characters, all printable (`str.isprintable`: no control characters such as NUL, no line or
#: paragraph separators, and no spaces other than U+0020), and is not blank.
MAX_RUN_KEY_CHARS = 256
#: An IRI (the sensor, an actor, an object, any entity's id) has at most this many characters.
MAX_IRI_CHARS = 2000
#: A top-level item's own id keys the event log, so it is shorter: at most this many characters
#: (an event's id is a urn:uuid, 45).
MAX_ITEM_ID_CHARS = 200
#: An email address has at most this many characters (RFC 5321's path limit, less its brackets).
MAX_EMAIL_CHARS = 320

_MS = timedelta(milliseconds=1)
YEAR_MESSAGE = f"Expected a year from {MIN_YEAR} to {MAX_YEAR}"
WINDOW_MESSAGE = "A window may span at most 24 hours"
XP_MESSAGE = f"must be a number from {-MAX_XP} to {MAX_XP}."


def year_problem(moment: datetime) -> str | None:
    """Why `moment` is out of bounds (its year, in UTC), or None."""
    if MIN_YEAR <= moment.year <= MAX_YEAR:
        return None
    return f"{YEAR_MESSAGE}; got year {moment.year}"


def window_problem(start: datetime, end: datetime) -> str | None:
    """Why the window start..end is out of bounds (backwards, or longer than a day), or None."""
    if end < start:
        return "Expected a window that ends at or after it starts"
    if end - start > MAX_WINDOW:
        return f"{WINDOW_MESSAGE}; this one spans {ms_text((end - start) / _MS)} ms"
    return None


def ms_text(ms: float) -> str:
    """Milliseconds as a message shows them: 86400001, or 1.5 (never 8.64e+07)."""
    return f"{ms:.3f}".rstrip("0").rstrip(".")


def time_limit_ms(window: tuple[datetime, datetime] | None) -> float:
    """The most time one report may hold: its window's length plus the slack, or a day when the
    report has no start (a window-less report, placed back from its end)."""
    if window is None:
        return MAX_WINDOW_MS
    start, end = window
    return (end - start) / _MS + WINDOW_SLACK_MS


def first_past_limit(amounts_ms: Sequence[float], limit_ms: float) -> int | None:
    """The index of the amount whose running total first passes `limit_ms`, or None."""
    total = 0.0
    for index, amount in enumerate(amounts_ms):
        total += amount
        if total > limit_ms:
            return index
    return None


def time_limit_message(window: tuple[datetime, datetime] | None, limit_ms: float) -> str:
    if window is None:
        return (f"Time without a start may total at most {MAX_WINDOW_MS} ms (24 hours) "
                "across its items")
    return (f"Time may total at most the window's length plus {WINDOW_SLACK_MS} ms "
            f"({ms_text(limit_ms)} ms here)")


def report_problem(window: tuple[datetime, datetime] | None,
                   amounts_ms: Sequence[float]) -> tuple[str, int | None] | None:
    """Why a time report (its window, None for a window-less one, and its amounts in ms) is out of
    bounds, as (message, the index of the amount at fault or None when the window is), or None."""
    if window is not None:
        problem = window_problem(*window)
        if problem is not None:
            return problem, None
    limit = time_limit_ms(window)
    past = first_past_limit(amounts_ms, limit)
    if past is not None:
        return time_limit_message(window, limit), past
    return None


#: One time item's `startDate` and `endDate`, either may be absent.
Span = tuple[datetime | None, datetime | None]


def event_window(spans: Sequence[Span],
                 event_time: datetime) -> tuple[datetime | None, datetime, int | None]:
    """A time event's window: its items' earliest start (None without one) to their latest end,
    else its eventTime; and which item that end is from (None for the eventTime)."""
    start: datetime | None = None
    end: datetime | None = None
    end_index = None
    for index, (item_start, item_end) in enumerate(spans):  # one pass: ingest runs it per event
        if item_start is not None and (start is None or item_start < start):
            start = item_start
        if item_end is not None and (end is None or item_end > end):
            end, end_index = item_end, index  # the first of equal latest ends
    if end is None:
        return start, event_time, None
    return start, end, end_index


def time_event_problem(seconds: Sequence[float], spans: Sequence[Span],
                       event_time: datetime) -> tuple[str, str] | None:
    """Why a TimeSpentEvent's items (their values in seconds, their spans) are out of bounds, as
    (where, message) with `where` one of `items[i].endDate`, `items[i].value`, `eventTime`."""
    for index, (start, end) in enumerate(spans):
        problem = None if start is None or end is None else window_problem(start, end)
        if problem is not None:
            return f"items[{index}].endDate", problem
    start, end, end_index = event_window(spans, event_time)
    found = report_problem(None if start is None else (start, end),
                           [value * 1000 for value in seconds])
    if found is None:
        return None
    message, at = found
    if at is not None:
        return f"items[{at}].value", message
    return ("eventTime" if end_index is None else f"items[{end_index}].endDate"), message


def widened_start(start: datetime, end: datetime, total_ms: float) -> datetime:
    """A window's start moved back so that `total_ms` fits in it (used when an app reports time it
    measured elsewhere, e.g. `end(time=...)` after an offline session)."""
    if total_ms <= time_limit_ms((start, end)):
        return start
    return end - timedelta(milliseconds=total_ms)


def run_key_problem(key: str) -> str | None:
    """Why an app's own runId (one that is not a UUID) is out of bounds, or None."""
    if not key.strip():
        return "Expected a UUID or a non-blank string"
    if len(key) > MAX_RUN_KEY_CHARS:
        return f"Expected at most {MAX_RUN_KEY_CHARS} characters; got {len(key)}"
    if not key.isprintable():
        return "Expected printable characters only (no control characters such as NUL)"
    return None


def length_problem(value: str, limit: int) -> str | None:
    """Why a text is longer than the store keeps, or None."""
    if len(value) <= limit:
        return None
    return f"Expected at most {limit} characters; got {len(value)}"


def xp_problem(value: float) -> str | None:
    return None if -MAX_XP <= value <= MAX_XP else XP_MESSAGE


def count_problem(value: float) -> str | None:
    return None if value <= MAX_COUNT else f"must be at most {MAX_COUNT}."


def pct_problem(value: float) -> str | None:
    return None if 0 <= value <= MAX_PCT else f"must be a number from 0 to {MAX_PCT}."
