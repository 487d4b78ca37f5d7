"""The days a learner summary covers through the API: a window of at most `MAX_SUMMARY_DAYS`,
the last `DEFAULT_SUMMARY_DAYS` ending today when not given, so its cost never grows with
history."""

from __future__ import annotations

from datetime import date, timedelta

from timeledger.server.queries.date_parameters import check_range
from timeledger.server.queries.errors import InvalidParameter

MAX_SUMMARY_DAYS = 366  # the longest window one summary covers (from and to inclusive)
DEFAULT_SUMMARY_DAYS = 366  # the window without from and to: the last 366 days ending today


def summary_window(today: date, date_from: date | str | None,
                   date_to: date | str | None) -> tuple[date, date]:
    """The first and last day: `to` defaults to today (or `from` when that is later), `from` to
    `DEFAULT_SUMMARY_DAYS` - 1 days before `to`; a longer window is an error naming `to`."""
    start_text, end_text = check_range(date_from, date_to)
    start = date.fromisoformat(start_text) if start_text else None
    end = date.fromisoformat(end_text) if end_text else max(today, start or today)
    if start is None:
        start = end - timedelta(days=DEFAULT_SUMMARY_DAYS - 1)
    days = (end - start).days + 1
    if days > MAX_SUMMARY_DAYS:
        raise InvalidParameter("to", f"A summary covers at most {MAX_SUMMARY_DAYS} days; "
                                     f"{start} to {end} holds {days}")
    return start, end
