"""The events explorer's reads: filtered pages of the event log, by keyset on `seq`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from timeledger.server.api.events import stored_event_json
from timeledger.server.dashboard import numbers
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
                after: int | None = None, limit: int = PAGE_SIZE,
                timezone: str = "UTC") -> dict[str, Any]:
    """Newest first. `before` pages back through older events; `after` fetches the next newer
    ones (the oldest `limit` of them, so a poll that falls behind catches up without gaps)."""
    order = events.c.seq.asc() if after is not None else events.c.seq.desc()
    query = sa.select(events).order_by(order).limit(limit + 1).where(*event_conditions(
        learner=where.learner, event_type=where.type, run_id=where.run_id))
    if before is not None:
        query = query.where(events.c.seq < before)
    if after is not None:
        query = query.where(events.c.seq > after)
    rows = list(conn.execute(query))
    page = rows[:limit]
    if after is not None:
        page.reverse()
    items = []
    for row in page:
        item = stored_event_json(row)
        item["eventTimeText"] = numbers.moment(row.event_time, timezone)
        items.append(item)
    more = len(rows) > limit
    return {"events": items, "next": page[-1].seq if more and after is None else None,
            "more": more}


def newest_seq(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.seq), 0))).scalar_one())
