"""`GET /jobs/{id}/status`: what became of each event of an envelope, once it is projected."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from timeledger.caliper.times import format_utc
from timeledger.server.api.auth import platform_of, require_scope
from timeledger.server.api.errors import ApiError
from timeledger.server.pipeline.job_results import JobStatus, job_status
from timeledger.server.store.credentials import AccessToken

router = APIRouter(tags=["caliper"])

#: The longest `?wait=` a request may hold its connection for.
MAX_WAIT_SECONDS = 30
#: How often a waiting request looks at the projector's position again.
POLL_SECONDS = 0.02


@router.get("/jobs/{job_id}/status", summary="The processing result of one envelope")
async def get_job_status(
    job_id: str, request: Request,
    token: Annotated[AccessToken, Depends(require_scope("events:write"))],
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS, description=(
        "Seconds to wait for the job to complete before answering (long poll)"))] = 0,
) -> dict[str, Any]:
    platform = platform_of(request)

    def load() -> JobStatus | None:
        return job_status(platform.engine, job_id, platform.now())

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    status = await run_in_threadpool(load)
    if status is None or status.client_id != token.client_id:  # jobs belong to their client
        raise ApiError(404, f"No job {job_id!r}")
    while not status.completed and loop.time() < deadline:
        await asyncio.sleep(POLL_SECONDS)  # clock-ok: a long poll waits in real time
        status = await run_in_threadpool(load) or status
    return {"job": {
        "id": status.job_id,
        "state": status.state,
        "returnValue": {"status": "success", "results": status.results}
        if status.completed else None,
        "processedOn": format_utc(status.processed_on) if status.processed_on else None,
    }}
