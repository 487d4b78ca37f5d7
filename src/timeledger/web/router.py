"""The adapter as a Starlette router, for Starlette and FastAPI apps to mount at its base path."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from timeledger.web.adapter import (
    AdapterClient,
    ConfigSource,
    Identity,
    WebAdapter,
    hook_failed,
    is_cross_site,
)
from timeledger.web.assets import MEDIA_TYPE, SCRIPT_NAMES, script
from timeledger.web.protocol import DEFAULT_MAX_BODY_BYTES, Reply, too_large
from timeledger.web.protocol import Route as ProtocolRoute
from timeledger.web.user_routes import ClientUserQueries, UserQueries, user_routes
from timeledger.web.worker_threads import WorkerThreads

IdentityHook = Callable[[Request], Identity | Awaitable[Identity]]
"""Who is asking: `{"email", "id"?, "name"?}` from the session or token, else None (→ 401)."""

DEFAULT_BASE_PATH = "/api/timeback"


class TimebackRouter(Router):
    """The adapter's routes (relative), served wherever the app mounts it: mount at `base_path`."""

    def __init__(self, adapter: WebAdapter, identity: IdentityHook, base_path: str,
                 user_queries: UserQueries | None = None) -> None:
        self.adapter = adapter
        self.identity = identity
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.user_queries = ClientUserQueries(adapter.client, user_queries)
        self.threads = WorkerThreads()
        routes = [Route(f"/activity/{name}", self._endpoint(name), methods=["POST"],
                        name=f"timeback-{name}") for name in ("heartbeat", "submit")]
        self._posts = {route.path: route for route in routes}
        routes += user_routes(identity, self.user_queries, _response)
        routes += [Route(f"/{name}", self._script(name), methods=["GET", "HEAD"],
                         name=f"timeback-{name}") for name in SCRIPT_NAMES]
        super().__init__(routes=routes)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A POST to an activity route goes straight to it (one dict lookup, where the router
        would try its routes one by one); everything else is routed as `Router` routes it."""
        if scope["type"] == "http" and scope["method"] == "POST":
            route = self._posts.get(_route_path(scope))
            if route is not None:
                scope.setdefault("router", self)
                scope["route"] = route
                scope["endpoint"] = route.endpoint
                await route.app(scope, receive, send)
                return
        await super().app(scope, receive, send)

    @property
    def script_url(self) -> str:
        """Where the browser client is served once mounted at `base_path`."""
        return f"{self.base_path}/timeledger.js"

    def _endpoint(self, route: ProtocolRoute) -> Callable[[Request], Awaitable[Response]]:
        adapter, hook, threads = self.adapter, self.identity, self.threads
        call = type(hook).__call__ if not inspect.isfunction(hook) else hook
        asynchronous = inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(call)
        limit = adapter.max_body_bytes

        def answer(request: Request, raw: bytes) -> Reply:
            try:
                identity = cast(Identity, hook(request))  # a sync hook (see `asynchronous`)
            except Exception:  # the app's hook may raise anything: its 500, logged
                return hook_failed()
            return adapter.handle(route, identity, raw,
                                  cross_site=is_cross_site(request.headers.get("sec-fetch-site")))

        async def endpoint(request: Request) -> Response:
            raw = await _read(request, limit)
            if raw is None:
                return _response(too_large(limit))
            if not asynchronous:  # the hook may block: it and the write run on a worker thread
                return _response(await threads.run(answer, request, raw))
            try:
                identity = await hook(request)  # type: ignore[misc]
            except Exception:  # the app's hook may raise anything: its 500, logged
                return _response(hook_failed())
            # The write on a worker thread too: a hop through the router's queue costs less than
            # one through the outbox's writer thread and a future (bench/adapter_instructions.py)
            cross_site = is_cross_site(request.headers.get("sec-fetch-site"))
            return _response(await threads.run(adapter.handle, route, identity, raw,
                                               cross_site=cross_site))

        return endpoint

    @staticmethod
    def _script(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            found = script(name)
            if found.fresh_for(request.headers.get("if-none-match")):
                return Response(status_code=304, headers=found.headers())
            return Response(found.content, media_type=MEDIA_TYPE, headers=found.headers())

        return serve


def _route_path(scope: Scope) -> str:
    """The request's path below where the router is mounted (`root_path`)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root + "/") else path


async def _read(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it grows past `limit` (nothing bigger is held in memory)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _response(reply: Reply) -> Response:
    if reply.body is None:
        return Response(status_code=reply.status)
    return Response(reply.content(), status_code=reply.status, media_type="application/json")


def create_router(client: AdapterClient, *, identity: IdentityHook, config: ConfigSource = None,
                  base_path: str = DEFAULT_BASE_PATH,
                  max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                  allow_cross_site: bool = False,
                  user_queries: UserQueries | None = None) -> TimebackRouter:
    """The adapter for a Starlette or FastAPI app: `app.mount(router.base_path, router)`.

    `identity(request)` (sync or async) names the signed-in learner, never the request body.
    `config` overrides the client's `timeback.config.json` for course lookups. Cross-site
    requests (`Sec-Fetch-Site: cross-site`) are refused unless `allow_cross_site`.
    `/user/verify` and `/user/me` read the client's platform (`user_queries` replaces that).
    """
    adapter = WebAdapter(client, config=config, max_body_bytes=max_body_bytes,
                         allow_cross_site=allow_cross_site)
    return TimebackRouter(adapter, identity, base_path, user_queries)
