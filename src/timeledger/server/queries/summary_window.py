"""The days a learner summary covers through the API: a window of at most `MAX_SUMMARY_DAYS`,
by default the last `DEFAULT_SUMMARY_DAYS` up to the learner's last active day, so its cost never
grows with history."""

from __future__ import annotations

from datetime import date, timedelta

from timeledger.server.queries.date_parameters import check_range
from timeledger.server.queries.errors import InvalidParameter

MAX_SUMMARY_DAYS = 366  # the longest window one summary covers (from and to inclusive)
DEFAULT_SUMMARY_DAYS = 366  # the window without from: 366 days ending at `to`


def summary_window(today: date, date_from: date | str | None, date_to: date | str | None,
                   last_active: date | None = None) -> tuple[date, date]:
    """The first and last day. `to` defaults to today when `from` is given (or to `from` when
    that is later), else to the learner's last active day (today for one with none), so that a
    summary asked without dates shows the learner's latest year however long ago it was; `from`
    defaults to `DEFAULT_SUMMARY_DAYS` - 1 days before `to`. A longer window is an error naming
    `to`."""
    start_text, end_text = check_range(date_from, date_to)
    start = date.fromisoformat(start_text) if start_text else None
    if end_text:
        end = date.fromisoformat(end_text)
    elif start is not None:
        end = max(today, start)
    else:
        end = last_active or today
    if start is None:
        start = end - timedelta(days=DEFAULT_SUMMARY_DAYS - 1)
    days = (end - start).days + 1
    if days > MAX_SUMMARY_DAYS:
        raise InvalidParameter("to", f"A summary covers at most {MAX_SUMMARY_DAYS} days; "
                                     f"{start} to {end} holds {days}")
    return start, end
