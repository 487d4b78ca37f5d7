"""`GET /jobs/{id}/status`: what became of each event of an envelope."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from timeledger.caliper.times import format_utc
from timeledger.server.api.auth import platform_of, require_scope
from timeledger.server.api.errors import ApiError
from timeledger.server.store.credentials import AccessToken
from timeledger.server.store.schema import jobs

router = APIRouter(tags=["caliper"])


@router.get("/jobs/{job_id}/status", summary="The processing result of one envelope")
async def job_status(job_id: str, request: Request,
                     _token: Annotated[AccessToken, Depends(require_scope("events:write"))],
                     ) -> dict[str, Any]:
    platform = platform_of(request)

    def load() -> Any:
        with platform.engine.connect() as conn:
            return conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()

    row = await run_in_threadpool(load)
    if row is None:
        raise ApiError(404, f"No job {job_id!r}")
    return {"job": {
        "id": row.id,
        "state": row.state,
        "returnValue": {"status": "success", "results": orjson.loads(row.results)},
        "processedOn": format_utc(row.processed_on) if row.processed_on else None,
    }}
