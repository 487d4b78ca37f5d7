"""`POST /bench/noop` (only with `serve --bench-baseline`): the bench's floor for one POST.

It authenticates and reads the body exactly as `POST /caliper/event` does, then does nothing, so
`bench/ingest.py` can say what share of a bare authenticated request ingest reaches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from timeledger.server.api.auth import platform_of, require_scope
from timeledger.server.api.bodies import read_limited_body
from timeledger.server.api.ingest import require_json
from timeledger.server.json_response import JsonResponse
from timeledger.server.store.credentials import AccessToken

router = APIRouter(include_in_schema=False)


@router.post("/bench/noop")
async def noop(request: Request,
               _token: Annotated[AccessToken, Depends(require_scope("events:write"))],
               ) -> JsonResponse:
    require_json(request)
    await read_limited_body(request, platform_of(request).settings.max_body_bytes)
    return JsonResponse({"status": "success", "jobId": "noop"})
