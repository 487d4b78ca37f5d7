"""Error replies in the IMS shape the Caliper API uses, and handlers so nothing leaks as a 500.

Every error ends in a complete response: the connection stays usable for the client's next
request (an exception that reached the server would make it drop the connection instead).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from timeledger.caliper.errors import Problem
from timeledger.server.json_response import JsonResponse
from timeledger.server.store.availability import outage_reason

log = logging.getLogger("timeledger.server")
# How long a client should wait before sending a request again after a 503 (store outage).
OUTAGE_RETRY_AFTER_S = 5


class ApiError(Exception):
    """Raised by handlers to reply with an IMS error body."""

    def __init__(self, status: int, description: str, problems: Iterable[Problem] = (),
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.problems = list(problems)
        self.headers = headers


def ims_error_body(description: str, problems: Iterable[Problem] = ()) -> dict[str, Any]:
    return {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_error_details": [p.to_json() for p in problems],
    }


def ims_error(status: int, description: str, problems: Iterable[Problem] = (),
              headers: Mapping[str, str] | None = None) -> JsonResponse:
    return JsonResponse(ims_error_body(description, problems), status_code=status,
                        headers=headers)


def store_unavailable(reason: str) -> JsonResponse:
    return ims_error(503, f"The store cannot take requests now ({reason}); nothing was applied, "
                          "send the request again later",
                     headers={"Retry-After": str(OUTAGE_RETRY_AFTER_S)})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JsonResponse:
        return ims_error(exc.status, exc.description, exc.problems, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JsonResponse:
        problems = [
            Problem(".".join(str(p) for p in err["loc"][1:]) or str(err["loc"][0]), err["msg"])
            for err in exc.errors()
        ]
        first = problems[0] if problems else Problem("", "Invalid request")
        return ims_error(400, f"Invalid request: {first.path}: {first.message}", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JsonResponse:
        return ims_error(exc.status_code, str(exc.detail), headers=exc.headers)


class ErrorResponses:
    """ASGI middleware: an exception no handler took becomes a 503 (store outage) or 500 reply.

    Starlette's own last-resort handler re-raises after replying, and uvicorn then drops the
    connection; this one does not, so the next request on a keep-alive connection works."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except ClientDisconnect:
            return  # nobody is left to answer
        except Exception as exc:
            if started:  # half a response is out: only closing the connection can end it
                raise
            reason = outage_reason(exc)
            if reason is not None:
                log.warning("Store unavailable on %s %s: %s", scope["method"], scope["path"],
                            reason)
                response = store_unavailable(reason)
            else:
                log.exception("Unexpected error on %s %s", scope["method"], scope["path"])
                response = ims_error(500, "Internal error; the request was not applied")
            await response(scope, receive, send)
