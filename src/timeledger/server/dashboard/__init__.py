"""The dashboard: server-rendered pages over the projections, at `/`, with its own sign-in."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from timeledger.server.dashboard import (
    activity_runs,
    assets,
    attention_pages,
    exports,
    pages,
    roster_pages,
    share_pages,
    signin,
)
from timeledger.server.dashboard.access import AccessStore
from timeledger.server.dashboard.guard import Denied, viewer_of
from timeledger.server.dashboard.rendering import render
from timeledger.server.platform import Platform


def install(app: FastAPI) -> None:
    platform: Platform = app.state.platform
    # The dashboard's tables (access.py) are made by the schema migrations, like every other.
    app.state.dashboard_access = AccessStore(platform.engine)

    async def denied(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, Denied):  # registered for Denied only
            raise exc
        return signin.denied_response(request, await viewer_of(request), exc)

    app.add_exception_handler(Denied, denied)

    async def unstorable(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, signin.FormFieldError):  # registered for FormFieldError only
            raise exc
        return render(request, await viewer_of(request), "denied.html", {
            "heading": "Not saved", "message": str(exc)}, status=400)

    app.add_exception_handler(signin.FormFieldError, unstorable)
    app.add_api_route("/favicon.ico", assets.favicon, methods=["GET"], include_in_schema=False)
    app.add_api_route(assets.STATIC_PREFIX + "/{name}", assets.dashboard_file, methods=["GET"],
                      include_in_schema=False)
    app.include_router(signin.router)
    app.include_router(roster_pages.router)
    app.include_router(attention_pages.router)
    app.include_router(activity_runs.router)
    app.include_router(exports.router)
    app.include_router(share_pages.router)
    app.include_router(pages.router)
