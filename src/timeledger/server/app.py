"""Assemble the platform's ASGI app from its routers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from timeledger.server.api import auth, events, ingest, jobs
from timeledger.server.api.error_responses import declare_error_responses
from timeledger.server.api.errors import install_error_handlers
from timeledger.server.api.responses import JsonResponse
from timeledger.server.platform import Platform


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(
        title="timeledger platform",
        version="0.1.0",
        description="A Timeback-compatible Caliper API with an event store, projections and "
                    "a query API.",
        default_response_class=JsonResponse,
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.platform = platform
    install_error_handlers(app)

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    for module in (auth, ingest, jobs, events):
        app.include_router(module.router)
    _include_optional(app, "timeledger.server.api.queries")
    _include_optional(app, "timeledger.server.dashboard")
    declare_error_responses(app)
    return app


def _include_optional(app: FastAPI, module_name: str) -> None:
    """Routers built in parallel by other parts of the tree join once they exist."""
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return
    install = getattr(module, "install", None)
    if install is not None:
        install(app)
