"""The events explorer's reads: filtered pages of the event log, and its live feed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from timeledger.server.dashboard import numbers
from timeledger.server.queries.event_log import log_page
from timeledger.server.store.commit_order import LogCursor

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
    """A page of the explorer as its JSON: `queries.event_log.log_page` with local times."""
    page = log_page(conn, learner=where.learner, event_type=where.type, run_id=where.run_id,
                    before=before, after=after, limit=limit)
    items = [{**logged.json, "eventTimeText": numbers.moment(logged.event_time, timezone)}
             for logged in page.events]
    return {"events": items, "next": page.next, "more": page.more,
            "cursor": page.cursor.token()}
