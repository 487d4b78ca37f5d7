"""The checks the app runs before every route, in one list: FastAPI runs them as the app's
dependencies, and a route served outside FastAPI's dependency solving (POST /caliper/event,
api/ingest.py) runs the same list in the same order, so adding a check here covers both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from timeledger.server.api.text_parameters import refuse_nul_characters

APP_CHECKS: tuple[Callable[[Request], Awaitable[None]], ...] = (refuse_nul_characters,)


async def run_app_checks(request: Request) -> None:
    """Each of APP_CHECKS, in order; the first that refuses raises its ApiError."""
    for check in APP_CHECKS:
        await check(request)
