"""Static files: the dashboard's CSS, JS and icon, served by the platform itself (no CDN)."""

from __future__ import annotations

import functools
import hashlib
from importlib import resources

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

STATIC_PREFIX = "/static"
IMMUTABLE = "public, max-age=31536000, immutable"
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".svg": "image/svg+xml"}


@functools.cache
def _dashboard_file(name: str) -> bytes:
    return resources.files("timeledger.server.dashboard").joinpath("static", name).read_bytes()


def asset_url(name: str) -> str:
    """A versioned URL, so browsers may cache the file for good."""
    digest = hashlib.sha256(_dashboard_file(name)).hexdigest()[:12]
    return f"{STATIC_PREFIX}/{name}?v={digest}"


@functools.cache
def inline_asset(name: str) -> Markup:
    """A file of the dashboard's own, for a page to carry inline: the stylesheet, so the first
    paint waits for no request (a Chromebook pays a round trip or two for each)."""
    return Markup(_dashboard_file(name).decode())


def favicon(_request: Request) -> Response:
    """`/favicon.ico`, where browsers look unasked: the dashboard's SVG icon (not versioned, so
    cached for a day only)."""
    return Response(_dashboard_file("favicon.svg"), media_type=_TYPES[".svg"],
                    headers={"Cache-Control": "public, max-age=86400",
                             "X-Content-Type-Options": "nosniff"})


def dashboard_file(request: Request) -> Response:
    """`/static/{name}`: a file of the dashboard's own, cached for good (its URL is versioned)."""
    name = request.path_params["name"]
    suffix = "." + name.rpartition(".")[2]
    if "/" in name or suffix not in _TYPES:
        return Response("Not found", status_code=404, media_type="text/plain")
    try:
        raw = _dashboard_file(name)
    except FileNotFoundError:
        return Response("Not found", status_code=404, media_type="text/plain")
    return Response(raw, media_type=_TYPES[suffix],
                    headers={"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"})
