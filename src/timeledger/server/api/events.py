"""`GET /caliper/events` (filtered, keyset-paginated) and `GET /caliper/events/{id}`."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from timeledger.caliper.errors import Problem
from timeledger.caliper.times import TimeFormatError, parse_utc
from timeledger.server.api.auth import platform_of, require_scope
from timeledger.server.api.errors import ApiError
from timeledger.server.queries.event_log import stored_event_json
from timeledger.server.store.commit_order import MAX_SEQ
from timeledger.server.store.credentials import AccessToken
from timeledger.server.store.event_selection import event_conditions
from timeledger.server.store.schema import events

router = APIRouter(tags=["caliper"])
MAX_PAGE = 1000


def _time_param(name: str, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return parse_utc(value)
    except TimeFormatError as exc:
        raise ApiError(400, f"Invalid {name}: {exc}", [Problem(name, str(exc))]) from None


@router.get("/caliper/events", summary="List stored events, newest first")
async def list_events(
    request: Request,
    _token: Annotated[AccessToken, Depends(require_scope("reports:read"))],
    learner: Annotated[str | None, Query(description="Email or actor id")] = None,
    type: Annotated[str | None, Query(description="Caliper type, e.g. TimeSpentEvent")] = None,
    run_id: Annotated[str | None, Query(alias="runId")] = None,
    since: Annotated[str | None, Query(alias="from", description="eventTime >= (UTC)")] = None,
    until: Annotated[str | None, Query(alias="to", description="eventTime < (UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    before: Annotated[int | None, Query(ge=0, le=MAX_SEQ,
                                        description="Cursor: the `next` of the last page")] = None,
) -> dict[str, Any]:
    query = sa.select(events).order_by(events.c.seq.desc()).limit(limit + 1).where(
        *event_conditions(learner=learner, event_type=type, run_id=run_id,
                          since=_time_param("from", since), until=_time_param("to", until)))
    if before is not None:
        query = query.where(events.c.seq < before)
    platform = platform_of(request)

    def load() -> tuple[list[dict[str, Any]], bool]:
        with platform.engine.connect() as conn:
            rows = list(conn.execute(query))
            return [stored_event_json(conn, r) for r in rows[:limit]], len(rows) > limit

    page, more = await run_in_threadpool(load)
    return {"events": page, "next": page[-1]["seq"] if more else None}


@router.get("/caliper/events/{event_id:path}", summary="One stored event by its id")
async def get_event(event_id: str, request: Request,
                    _token: Annotated[AccessToken, Depends(require_scope("reports:read"))],
                    ) -> dict[str, Any]:
    platform = platform_of(request)

    def load() -> dict[str, Any] | None:
        with platform.engine.connect() as conn:
            row = conn.execute(sa.select(events).where(events.c.event_id == event_id)).first()
            return None if row is None else stored_event_json(conn, row)

    found = await run_in_threadpool(load)
    if found is None:
        raise ApiError(404, f"No event {event_id!r}")
    return found
