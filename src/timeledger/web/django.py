"""The adapter as Django views and URL patterns: `path("api/timeback/", include(urls(...)))`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from timeledger.web.adapter import (
    AdapterClient,
    ConfigSource,
    Identity,
    WebAdapter,
    hook_failed,
    is_cross_site,
)
from timeledger.web.assets import MEDIA_TYPE, SCRIPT_NAMES, script
from timeledger.web.protocol import DEFAULT_MAX_BODY_BYTES, Reply, Route
from timeledger.web.user_routes import (
    ClientUserQueries,
    UserQueries,
    UserRoute,
    email_of,
    user_reply,
)

DjangoIdentityHook = Callable[[Any], Identity]


def user_identity(request: Any) -> Identity:
    """The default hook: Django's signed-in `request.user` (its email and primary key)."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    email = getattr(user, "email", None)
    if not email:
        return None
    return {"email": email, "id": str(user.pk)}


def _response(reply: Reply) -> Any:
    if reply.body is None:
        return HttpResponse(status=reply.status)
    return HttpResponse(reply.content(), status=reply.status, content_type="application/json")


def activity_view(adapter: WebAdapter, route: Route,
                  identity: DjangoIdentityHook) -> Callable[[Any], Any]:
    """A POST view for `activity/heartbeat` or `activity/submit` (CSRF-exempt: beacons carry no
    token; cross-site requests are refused by `Sec-Fetch-Site` instead)."""

    def view(request: HttpRequest) -> HttpResponse:
        try:
            learner = identity(request)
        except Exception:  # the app's hook may raise anything: its 500, logged
            return _response(hook_failed())
        return _response(adapter.handle(
            route, learner, request.body,
            cross_site=is_cross_site(request.headers.get("Sec-Fetch-Site"))))

    wrapped: Callable[[Any], Any] = csrf_exempt(require_http_methods(["POST"])(view))
    return wrapped


def user_view(route: UserRoute, queries: Callable[[], UserQueries],
              identity: DjangoIdentityHook) -> Callable[[Any], Any]:
    """A GET view for `user/verify` or `user/me` (web/user_routes.py)."""

    def view(request: HttpRequest) -> HttpResponse:
        try:
            learner = identity(request)
        except Exception:  # the app's hook may raise anything: its 500, logged
            return _response(hook_failed())
        return _response(user_reply(route, queries(), email_of(learner)))

    wrapped: Callable[[Any], Any] = require_http_methods(["GET"])(view)
    return wrapped


def script_view(name: str) -> Callable[[Any], Any]:
    """A GET view serving one of the browser client's files."""

    def view(request: HttpRequest) -> HttpResponse:
        found = script(name)
        if found.fresh_for(request.headers.get("If-None-Match")):
            response = HttpResponseNotModified()
        else:
            response = HttpResponse(found.content, content_type=MEDIA_TYPE)
        for key, value in found.headers().items():
            response[key] = value
        return response

    wrapped: Callable[[Any], Any] = require_http_methods(["GET", "HEAD"])(view)
    return wrapped


def urls(client: AdapterClient, *, identity: DjangoIdentityHook = user_identity,
         config: ConfigSource = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
         allow_cross_site: bool = False, user_queries: UserQueries | None = None) -> list[Any]:
    """URL patterns to `include()` under the adapter's base path (e.g. `api/timeback/`).
    `user/verify` and `user/me` read the client's platform (`user_queries` replaces that)."""
    adapter = WebAdapter(client, config=config, max_body_bytes=max_body_bytes,
                         allow_cross_site=allow_cross_site)
    patterns = [path(f"activity/{route}", activity_view(adapter, route, identity),
                     name=f"timeback-{route}") for route in ("heartbeat", "submit")]
    queries = ClientUserQueries(client, user_queries)
    patterns += [path(f"user/{route}", user_view(route, queries, identity),
                      name=f"timeback-user-{route}") for route in ("verify", "me")]
    patterns += [path(name, script_view(name), name=f"timeback-{name}") for name in SCRIPT_NAMES]
    return patterns
