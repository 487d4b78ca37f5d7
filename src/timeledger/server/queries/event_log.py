"""Reads of the event log itself: stored events as JSON, by id, and the explorer's pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from timeledger.caliper.times import format_utc
from timeledger.server.store import commit_order
from timeledger.server.store.commit_order import LogCursor
from timeledger.server.store.event_bodies import event_json
from timeledger.server.store.event_selection import event_conditions
from timeledger.server.store.schema import events


def stored_event_json(conn: sa.Connection, row: Any) -> dict[str, Any]:
    """A row of `events` as the API and the dashboard show it, with its (decompressed) body."""
    return {
        "seq": row.seq, "eventId": row.event_id, "type": row.type, "action": row.action,
        "profile": row.profile, "learner": row.learner_email, "actorId": row.actor_id,
        "runId": row.run_id, "sensor": row.sensor,
        "eventTime": format_utc(row.event_time) if row.event_time else None,
        "receivedAt": format_utc(row.received_at), "event": event_json(conn, row),
    }


def events_by_id(conn: sa.Connection, event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The stored events among `event_ids`, keyed by id (ids not stored are left out)."""
    if not event_ids:
        return {}
    rows = conn.execute(sa.select(events).where(events.c.event_id.in_(event_ids)))
    return {row.event_id: stored_event_json(conn, row) for row in rows}


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    json: dict[str, Any]
    event_time: datetime | None


@dataclass(frozen=True, slots=True)
class LogPage:
    events: list[LoggedEvent]
    next: int | None  # the `before` of the next older page, when there is one
    more: bool
    cursor: LogCursor  # where the next poll for newer events starts


def log_page(conn: sa.Connection, *, learner: str | None = None, event_type: str | None = None,
             run_id: str | None = None, before: int | None = None,
             after: LogCursor | None = None, limit: int) -> LogPage:
    """Newest first. `before` pages back through older events (by `seq`); `after` fetches the
    next newer ones (the oldest `limit` of them, so a poll that falls behind catches up without
    gaps). See `store.commit_order` for why the cursor is more than a `seq`."""
    now = commit_order.settled(conn)
    query = sa.select(events).limit(limit + 1).where(*event_conditions(
        learner=learner, event_type=event_type, run_id=run_id), now.condition)
    if after is not None:
        newer, order = commit_order.after(after, conn)
        query = query.where(newer).order_by(*order)
    else:
        query = query.order_by(events.c.seq.desc())
    if before is not None:
        query = query.where(events.c.seq < before)
    rows = list(conn.execute(query))
    page = rows[:limit]
    more = len(rows) > limit
    cursor = now.cursor
    if after is not None:
        if more:  # the next poll goes on from the last row read
            last = page[-1]
            cursor = LogCursor(last.seq, last.xact if after.xact is not None else None)
        page.reverse()
    return LogPage(events=[LoggedEvent(stored_event_json(conn, row), row.event_time)
                           for row in page],
                   next=page[-1].seq if more and after is None else None, more=more,
                   cursor=cursor)
