"""A run's own lists (its windows, session days and flags), each a page at a time read by key."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from timeledger.server.queries.figures import iso, seconds
from timeledger.server.queries.flags import MAX_FLAGS, flags_page
from timeledger.server.queries.page_cursor import cursor_time, decode_key, encode_key, not_a_cursor
from timeledger.server.store.projection_tables import run_days, run_windows

MAX_RUN_WINDOWS = 1000  # the most windows one page lists (GET /api/v1/runs/{id}/windows)
DEFAULT_RUN_WINDOWS = 1000  # unless `limit` says; also the first page in GET /api/v1/runs/{id}
MAX_RUN_DAYS = 1000  # the same for its session days
DEFAULT_RUN_DAYS = 1000
MAX_RUN_FLAGS = MAX_FLAGS  # and for its flags, as GET /api/v1/flags
DEFAULT_RUN_FLAGS = MAX_FLAGS


def run_windows_page(conn: sa.Connection, key: str, limit: int,
                     after: str | None = None) -> dict[str, Any]:
    """At most `limit` windows of the run `key` (a resolved run id) in start order (then by seq),
    after the cursor `after`: {windows: [{event_id, start, end, active_seconds,
    inactive_seconds, other_seconds, bounds: "reported"|"estimated", overlaps_event_id}],
    next (None on the last page)}."""
    w = run_windows.c
    query = (sa.select(run_windows).where(w.run_id == key)
             .order_by(w.start_at, w.seq).limit(limit + 1))
    if after is not None:
        start, seq = _window_key(after, key)
        # `start_at >=` on its own, so the index walk starts at the cursor
        query = query.where(w.start_at >= start, sa.or_(w.start_at > start, w.seq > seq))
    found = list(conn.execute(query))
    more = len(found) > limit
    found = found[:limit]
    return {"windows": [{
        "event_id": win.event_id, "start": iso(win.start_at), "end": iso(win.end_at),
        "active_seconds": seconds(win.active_ms), "inactive_seconds": seconds(win.inactive_ms),
        "other_seconds": seconds(win.other_ms),
        "bounds": "reported" if win.bounds_reported else "estimated",
        "overlaps_event_id": win.overlap_event_id,
    } for win in found], "next": encode_key(
        "run_windows", [key, found[-1].start_at.isoformat(), int(found[-1].seq)])
        if more else None}


def _window_key(after: str, key: str) -> tuple[datetime, int]:
    run, start, seq = decode_key("after", after, "run_windows", (str, str, int))
    if run != key:  # a cursor is bound to its run: another run's is refused, not followed
        raise not_a_cursor("after")
    return cursor_time("after", start), int(seq)


def run_days_page(conn: sa.Connection, key: str, limit: int,
                  after: str | None = None) -> dict[str, Any]:
    """At most `limit` local days the run `key` had time on, oldest first, after the cursor
    `after`: {session_days: [{date, active_seconds, inactive_seconds}], next}."""
    d = run_days.c
    query = (sa.select(run_days).where(d.run_id == key).order_by(d.local_date)
             .limit(limit + 1))
    if after is not None:
        run, day = decode_key("after", after, "run_days", (str, str))
        if run != key:
            raise not_a_cursor("after")
        try:
            date.fromisoformat(str(day))
        except ValueError:
            raise not_a_cursor("after") from None
        query = query.where(d.local_date > str(day))
    found = list(conn.execute(query))
    more = len(found) > limit
    found = found[:limit]
    return {"session_days": [{"date": day.local_date, "active_seconds": seconds(day.active_ms),
                              "inactive_seconds": seconds(day.inactive_ms)} for day in found],
            "next": encode_key("run_days", [key, found[-1].local_date]) if more else None}


def run_flags_page(conn: sa.Connection, key: str, limit: int,
                   after: str | None = None) -> dict[str, Any]:
    """At most `limit` flags of the run `key`, as GET /api/v1/flags?run= lists them (newest
    first, then by key; its cursors): {flags, next}."""
    return flags_page(conn, None, key, None, None, None, limit, after)


def count_run_days(conn: sa.Connection, key: str) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(run_days)
                            .where(run_days.c.run_id == key)).scalar_one())
