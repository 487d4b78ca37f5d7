"""Error replies in the IMS shape the Caliper API uses, and handlers so nothing leaks as a 500."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from timeledger.caliper.errors import Problem
from timeledger.server.api.responses import JsonResponse

log = logging.getLogger("timeledger.server")


class ApiError(Exception):
    """Raised by handlers to reply with an IMS error body."""

    def __init__(self, status: int, description: str, problems: Iterable[Problem] = (),
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.problems = list(problems)
        self.headers = headers


def ims_error(status: int, description: str, problems: Iterable[Problem] = (),
              headers: Mapping[str, str] | None = None) -> JsonResponse:
    body: dict[str, Any] = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_error_details": [p.to_json() for p in problems],
    }
    return JsonResponse(body, status_code=status, headers=headers)


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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JsonResponse:
        log.exception("Unexpected error on %s %s", request.method, request.url.path)
        return ims_error(500, "Internal error; the request was not applied")
