"""Assemble the platform's ASGI app from its routers."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from timeledger.server import api_docs, dashboard
from timeledger.server.api import (
    auth,
    bench_baseline,
    events,
    ingest,
    jobs,
    oneroster_gradebook,
    oneroster_rostering,
    queries,
    users,
)
from timeledger.server.api.app_checks import APP_CHECKS
from timeledger.server.api.error_responses import declare_error_responses
from timeledger.server.api.errors import ErrorResponses, install_error_handlers, store_unavailable
from timeledger.server.api.host_check import HostCheck, HostPolicy
from timeledger.server.compression import CompressedReplies
from timeledger.server.error_pages import BrowserErrorPages
from timeledger.server.head_requests import HeadAsGet
from timeledger.server.json_response import JsonResponse
from timeledger.server.platform import Platform
from timeledger.server.secret_checks import SecretChecks
from timeledger.server.store.availability import unwritable_reason

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(platform: Platform, lifespan: Lifespan | None = None) -> FastAPI:
    """The platform's app; `lifespan` runs around serving (cli/serve.py closes the store in it)."""
    app = FastAPI(
        title="timeledger platform",
        version="0.1.0",
        description="A Timeback-compatible Caliper API with an event store, projections and "
                    "a query API.",
        default_response_class=JsonResponse,
        docs_url=None,  # api_docs.py serves /api/docs from files shipped in the package
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(check) for check in APP_CHECKS],
    )
    app.state.platform = platform
    app.state.secret_checks = SecretChecks(lambda: platform.now().timestamp())
    install_error_handlers(app)
    app.add_middleware(ErrorResponses)
    app.add_middleware(BrowserErrorPages)  # outside ErrorResponses: it sees its 500 reply
    app.add_middleware(CompressedReplies)  # inside HeadAsGet: HEAD gets GET's encoded headers
    app.add_middleware(HeadAsGet)
    # Added last, so it runs first: a refused Host reaches no other code.
    app.add_middleware(HostCheck, policy=HostPolicy.for_bind(platform.settings.bind_host,
                                                             platform.settings.allowed_hosts))

    @app.get("/healthz", tags=["ops"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="Readiness: the store can take writes now",
             responses={503: {"description": "The store cannot take writes (IMS error)"}})
    async def readyz() -> Any:
        reason = await run_in_threadpool(unwritable_reason, platform.engine)
        if reason is not None:
            return store_unavailable(reason)
        return {"status": "ready"}

    for module in (auth, ingest, jobs, events):
        app.include_router(module.router)
    if platform.settings.bench_baseline:
        app.include_router(bench_baseline.router)
    queries.install(app)
    oneroster_gradebook.install(app)
    oneroster_rostering.install(app)
    users.install(app)
    dashboard.install(app)
    api_docs.install(app)
    declare_error_responses(app)
    return app
