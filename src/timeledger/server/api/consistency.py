"""Read-your-writes for the query API: `projected_through` on every answer, `?consistent=true`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Query, Request
from starlette.concurrency import run_in_threadpool

from timeledger.caliper.times import format_utc
from timeledger.server.api.auth import platform_of
from timeledger.server.api.errors import ApiError
from timeledger.server.platform import Platform
from timeledger.server.store.log_positions import (
    Needs,
    log_heads,
    passed,
    projected_through,
    read_positions,
)

#: How often a waiting read looks at the projector's position again.
POLL_SECONDS = 0.02


async def read_consistency(
    request: Request,
    consistent: Annotated[bool, Query(description=(
        "Wait (10 s by default, `serve --max-consistent-wait`) until every event appended "
        "before this request is projected; 503 past that"))]
    = False,
) -> None:
    """A dependency of every query route: waits when asked, and notes `projected_through`."""
    platform = platform_of(request)
    if consistent:
        await _wait_for_head(platform)
    request.state.projected_through = await run_in_threadpool(_projection_json, platform)


def with_projection(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """The answer with how far projection had got before it was read."""
    through = getattr(request.state, "projected_through", None)
    return body if through is None else {**body, "projected_through": through}


async def _wait_for_head(platform: Platform) -> None:
    def head() -> Needs:
        with platform.engine.connect() as conn:
            return log_heads(conn)

    def reached(needs: Needs) -> bool:
        with platform.engine.connect() as conn:
            return passed(read_positions(conn), needs)

    needs = await run_in_threadpool(head)
    loop = asyncio.get_running_loop()
    bound = platform.settings.max_consistent_wait
    deadline = loop.time() + bound
    while not await run_in_threadpool(reached, needs):
        if loop.time() >= deadline:
            raise ApiError(503, "The projections have not caught up with the log within "
                                f"{bound:g} s; retry later",
                           headers={"Retry-After": "1"})
        await asyncio.sleep(POLL_SECONDS)  # clock-ok: a consistent read waits in real time


def _projection_json(platform: Platform) -> dict[str, Any]:
    with platform.engine.connect() as conn:
        through = projected_through(conn)
    return {"seq": through.seq, "caught_up": through.caught_up,
            "event_time": format_utc(through.event_time) if through.event_time else None}
