"""The events explorer's reads: filtered pages of the event log, and its live feed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from timeledger.server.api.events import stored_event_json
from timeledger.server.dashboard import numbers
from timeledger.server.store import commit_order
from timeledger.server.store.commit_order import LogCursor
from timeledger.server.store.event_selection import event_conditions
from timeledger.server.store.schema import events

PAGE_SIZE = 50
POLL_MS = 5000  # how often an open explorer asks for newer events
EVENT_TYPES = ("TimeSpentEvent", "ActivityEvent")


@dataclass(frozen=True, slots=True)
class EventFilter:
    learner: str | None = None
    type: str | None = None
    run_id: str | None = None

    def query_string(self) -> str:
        pairs = {"learner": self.learner, "type": self.type, "run": self.run_id}
        return urlencode({k: v for k, v in pairs.items() if v})


def events_page(conn: sa.Connection, where: EventFilter, *, before: int | None = None,
                after: LogCursor | None = None, limit: int = PAGE_SIZE,
                timezone: str = "UTC") -> dict[str, Any]:
    """Newest first. `before` pages back through older events (by `seq`); `after` fetches the
    next newer ones (the oldest `limit` of them, so a poll that falls behind catches up without
    gaps). `cursor` is where the next poll starts; see `store.commit_order`."""
    now = commit_order.settled(conn)
    query = sa.select(events).limit(limit + 1).where(*event_conditions(
        learner=where.learner, event_type=where.type, run_id=where.run_id), now.condition)
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
            cursor = commit_order.LogCursor(last.seq, last.xact if after.xact is not None
                                            else None)
        page.reverse()
    items = []
    for row in page:
        item = stored_event_json(conn, row)
        item["eventTimeText"] = numbers.moment(row.event_time, timezone)
        items.append(item)
    return {"events": items, "next": page[-1].seq if more and after is None else None,
            "more": more, "cursor": cursor.token()}
