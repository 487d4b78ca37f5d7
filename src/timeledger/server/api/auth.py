"""OAuth2 client credentials: the token endpoint, and the scope check every other call makes.

Secrets are checked through `SecretChecks` (server/secret_checks.py): throttled per client id and
per remote address, hashed in threads of their own.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from timeledger.server.api.bodies import read_limited_body
from timeledger.server.api.errors import ApiError, ims_error
from timeledger.server.json_response import JsonResponse
from timeledger.server.platform import Platform
from timeledger.server.secret_checks import BUSY_RETRY_AFTER_S, ChecksBusy, SecretChecks
from timeledger.server.store.credentials import AccessToken
from timeledger.server.store.nowait_reads import StoreBusy

router = APIRouter(tags=["auth"])
MAX_TOKEN_FORM_BYTES = 8192  # a grant type, a scope list and at most a client id and secret


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def secret_checks_of(request: Request) -> SecretChecks:
    checks: SecretChecks = request.app.state.secret_checks
    return checks


def _throttled(message: str, retry_after_s: int) -> JsonResponse:
    return JsonResponse({"error": "too_many_requests", "error_description": message},
                        status_code=429,
                        headers={"Retry-After": str(retry_after_s), "Cache-Control": "no-store"})


def _invalid_client() -> JsonResponse:
    return JsonResponse({"error": "invalid_client"}, status_code=401,
                          headers={"WWW-Authenticate": 'Basic realm="timeledger"'})


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


@router.post("/oauth2/token", summary="Issue a bearer token for client credentials")
async def token(request: Request) -> JsonResponse:
    raw = (await read_limited_body(request, MAX_TOKEN_FORM_BYTES)).decode("utf-8",
                                                                         errors="replace")
    form = {key: values[0] for key, values in parse_qs(raw).items()}
    if form.get("grant_type") != "client_credentials":
        return JsonResponse({"error": "unsupported_grant_type",
                               "error_description": "grant_type must be client_credentials"},
                              status_code=400)
    credentials = _basic_credentials(request.headers.get("authorization", ""))
    if credentials is None and "client_id" in form:
        credentials = (form["client_id"], form.get("client_secret", ""))
    if credentials is None:
        return _invalid_client()
    platform = platform_of(request)
    checks = secret_checks_of(request)
    account = f"client {credentials[0]}"
    address = request.client.host if request.client else None
    throttled = checks.throttled(account, address)
    if throttled is not None:
        return _throttled(throttled.message, throttled.retry_after_s)
    scopes = tuple(form.get("scope", "").split())
    try:
        issued = await checks.run(partial(platform.credentials.issue_token, credentials[0],
                                          credentials[1], scopes, platform.now()))
    except ChecksBusy:
        return ims_error(503, "Too many token requests at once; try again shortly",
                         headers={"Retry-After": str(BUSY_RETRY_AFTER_S)})
    if issued is None:
        checks.failed(account, address)
        return _invalid_client()
    return JsonResponse({
        "access_token": issued.token, "token_type": "Bearer",
        "expires_in": int((issued.expires_at - platform.now()).total_seconds()),
        "scope": " ".join(issued.scopes),
    }, headers={"Cache-Control": "no-store"})


async def _lookup(platform: Platform, token: str) -> AccessToken | None:
    """The read runs on the loop: on SQLite without waiting (store/nowait_reads.py), on
    PostgreSQL through the loop's own connection (store/loop_reads.py). Where SQLite would make
    it wait, or PostgreSQL's read failed, it runs again on a worker thread through the engine."""
    credentials = platform.credentials
    now = platform.now()
    with contextlib.suppress(StoreBusy):
        if credentials.reads_without_waiting:
            return credentials.lookup_token_nowait(token, now)
        if credentials.reads_on_loop:
            return await credentials.lookup_token_on_loop(token, now)
    return await run_in_threadpool(credentials.lookup_token, token, now)


def require_scope(scope: str) -> Callable[[Request], Awaitable[AccessToken]]:
    """A dependency that admits a request only with a live bearer token holding `scope`."""

    async def check(request: Request) -> AccessToken:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "Missing bearer token",
                           headers={"WWW-Authenticate": 'Bearer realm="timeledger"'})
        found = await _lookup(platform_of(request), value.strip())
        if found is None:
            raise ApiError(401, "Invalid or expired bearer token",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if scope not in found.scopes:
            raise ApiError(403, f"This token lacks the {scope!r} scope",
                           headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", '
                                                        f'scope="{scope}"'})
        return found

    return check
