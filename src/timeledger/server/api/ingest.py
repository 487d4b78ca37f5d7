"""`POST /caliper/event` and `/validate`: check the envelope, then append it exactly once."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from timeledger.caliper.envelope import (
    SUPPORTED_DATA_VERSIONS,
    Envelope,
    TooManyEvents,
    UnsupportedDataVersion,
)
from timeledger.caliper.errors import CaliperError, Problem
from timeledger.caliper.screen import read_envelope
from timeledger.server.api.app_checks import run_app_checks
from timeledger.server.api.auth import platform_of, require_scope
from timeledger.server.api.bodies import read_limited_body
from timeledger.server.api.errors import ApiError
from timeledger.server.ingestion import JobResult
from timeledger.server.json_response import JsonResponse
from timeledger.server.platform import Platform
from timeledger.server.store.credentials import AccessToken

router = APIRouter(tags=["caliper"])

APPEND_THREADS = 16
"""Envelopes checked and appended at once (those waiting together share one commit). More wait
in line, and the line is as long as the server lets connections be (`--limit-concurrency`)."""
_append_threads = ThreadPoolExecutor(APPEND_THREADS, thread_name_prefix="timeledger-append")

JSON_TYPES = ("application/json", "application/ld+json")
ENVELOPE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["sensor", "sendTime", "dataVersion", "data"],
        "properties": {
            "sensor": {"type": "string", "format": "iri"},
            "sendTime": {"type": "string", "format": "date-time"},
            "dataVersion": {"type": "string", "enum": list(SUPPORTED_DATA_VERSIONS)},
            "data": {"type": "array", "minItems": 1, "items": {"type": "object"}},
        },
    }}},
}


def require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in JSON_TYPES:
        raise ApiError(415, f"Content-Type must be application/json, got {media_type or 'none'!r}",
                       [Problem("Content-Type", "Expected application/json")])


def to_api_error(exc: CaliperError) -> ApiError:
    status = 422 if isinstance(exc, UnsupportedDataVersion) else 400
    if isinstance(exc, TooManyEvents):
        status = 413
    first = exc.problems[0]
    where = f"{first.path}: " if first.path else ""
    return ApiError(status, f"Invalid envelope: {where}{first.message}", exc.problems)


async def _checked_envelope(request: Request) -> Envelope:
    require_json(request)
    platform = platform_of(request)
    raw = await read_limited_body(request, platform.settings.max_body_bytes)
    try:
        return await run_in_threadpool(read_envelope, raw,
                                       platform.settings.max_events_per_envelope)
    except CaliperError as exc:
        raise to_api_error(exc) from None


_may_write_events = require_scope("events:write")


async def _send_events(request: Request) -> JsonResponse:
    """POST /caliper/event as a plain Starlette route, ahead of the FastAPI route that documents
    it: FastAPI's per-request work (solving the dependencies, inspecting them again) was 0.4M of
    the 1.36M instructions the app spent on a request around the check and the append (in
    process, callgrind). The checks are the route's own dependencies, called in the order
    FastAPI calls them (the app's, api/app_checks.py, then the route's)."""
    await run_app_checks(request)
    return await send_events(request, await _may_write_events(request))


# First, so it takes POST; GET /caliper/event (the endpoint's configuration) matches only partly
# and goes on to its own route.
router.routes.append(Route("/caliper/event", _send_events, methods=["POST"],
                           include_in_schema=False))


@router.post("/caliper/event", summary="Send a Caliper envelope",
             openapi_extra={"requestBody": ENVELOPE_BODY})
async def send_events(request: Request,
                      token: Annotated[AccessToken, Depends(_may_write_events)],
                      ) -> JsonResponse:
    require_json(request)
    platform = platform_of(request)
    raw = await read_limited_body(request, platform.settings.max_body_bytes)
    try:  # one trip to a worker thread for both, through asyncio's executor: anyio's trip
        # (run_in_threadpool) cost about twice as much, which a one-event envelope feels
        job = await asyncio.get_running_loop().run_in_executor(
            _append_threads, _check_and_append, platform, raw, token.client_id)
    except CaliperError as exc:
        raise to_api_error(exc) from None
    return JsonResponse({"status": "success", "jobId": job.job_id})


def _check_and_append(platform: Platform, raw: bytes, client_id: str | None) -> JobResult:
    envelope = read_envelope(raw, platform.settings.max_events_per_envelope)
    return platform.ingestor.ingest(envelope, client_id)


@router.post("/caliper/event/validate", summary="Check a Caliper envelope without storing it",
             openapi_extra={"requestBody": ENVELOPE_BODY})
async def validate_events(request: Request,
                          _token: Annotated[AccessToken, Depends(require_scope("events:write"))],
                          ) -> JsonResponse:
    envelope = await _checked_envelope(request)
    return JsonResponse({"status": "success", "valid": True, "events": len(envelope.data)})


@router.get("/caliper/event", summary="The endpoint's configuration (Caliper endpoint config)")
async def endpoint_config(request: Request) -> dict[str, Any]:
    platform = platform_of(request)
    return {
        "caliper_maximum_payload_size": platform.settings.max_body_bytes,
        "caliper_supported_versions": list(SUPPORTED_DATA_VERSIONS),
        "caliper_supported_extensions": {"endpoint_name": "timeledger",
                                         "profiles": ["TimebackProfile"]},
    }
