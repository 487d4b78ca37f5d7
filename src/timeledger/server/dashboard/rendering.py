"""Render a page template into an HTML response with the dashboard's security headers."""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from timeledger.server.dashboard import numbers
from timeledger.server.dashboard.assets import asset_url, inline_asset
from timeledger.server.dashboard.guard import CSRF_COOKIE, Viewer, csrf_token, platform_of

# Charts are inline SVG drawn on the server; no script is inline. Templates set a few style
# attributes (meter widths), hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Never to other sites (a share link's token must not leak); same-origin keeps the Origin
    # header on form posts, which the CSRF check reads ("no-referrer" would make it "null").
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("timeledger.server.dashboard", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(numbers.FILTERS)
    env.globals["asset_url"] = asset_url
    env.globals["inline_asset"] = inline_asset
    env.globals.update(numbers.GLOBALS)
    return env


def secure(response: Response, request: Request) -> Response:
    """Add the security headers, and set a CSRF cookie if this response handed out a new one."""
    response.headers.update(SECURITY_HEADERS)
    fresh = getattr(request.state, "new_csrf", None)
    if fresh:
        response.set_cookie(CSRF_COOKIE, fresh, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
    return response


def render(request: Request, viewer: Viewer | None, template: str, context: dict[str, Any],
           status: int = 200) -> Response:
    timezone = platform_of(request).settings.timezone
    page = environment().get_template(template).render(
        request=request, viewer=viewer, csrf=csrf_token(request, viewer), timezone=timezone,
        moment=functools.partial(numbers.moment, timezone=timezone),
        clock=functools.partial(numbers.clock, timezone=timezone),
        when=functools.partial(numbers.when, now=platform_of(request).now(), timezone=timezone),
        prose=functools.partial(numbers.prose, timezone=timezone),
        path=request.url.path, **context)
    return secure(HTMLResponse(page, status_code=status), request)
