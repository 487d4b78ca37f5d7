"""Static files: the dashboard's CSS and JS, and plotly.js from the plotly package (no CDN)."""

from __future__ import annotations

import functools
import gzip
import hashlib
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

STATIC_PREFIX = "/static"
IMMUTABLE = "public, max-age=31536000, immutable"
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".svg": "image/svg+xml"}


@functools.cache
def _dashboard_file(name: str) -> bytes:
    return resources.files("timeledger.server.dashboard").joinpath("static", name).read_bytes()


@functools.cache
def plotly_version() -> str:
    from plotly.offline import get_plotlyjs_version

    version: str = get_plotlyjs_version()
    return version


@functools.cache
def _plotly_bytes() -> tuple[bytes, bytes]:
    """plotly.js as shipped in the pip package, and gzipped once (4.8 MB becomes about 1.4 MB)."""
    from plotly.offline import get_plotlyjs

    raw = str(get_plotlyjs()).encode()
    return raw, gzip.compress(raw, compresslevel=6)


def asset_url(name: str) -> str:
    """A versioned URL, so browsers may cache the file for good."""
    if name == "plotly.js":
        return f"{STATIC_PREFIX}/plotly-{plotly_version()}.min.js"
    digest = hashlib.sha256(_dashboard_file(name)).hexdigest()[:12]
    return f"{STATIC_PREFIX}/{name}?v={digest}"


def _reply(request: Request, raw: bytes, compressed: bytes | None, media_type: str) -> Response:
    headers = {"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff",
               "Vary": "Accept-Encoding"}
    if compressed is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(compressed, media_type=media_type, headers=headers)
    return Response(raw, media_type=media_type, headers=headers)


def plotly_js(request: Request) -> Response:
    raw, compressed = _plotly_bytes()
    return _reply(request, raw, compressed, _TYPES[".js"])


def favicon(_request: Request) -> Response:
    """`/favicon.ico`, where browsers look unasked: the dashboard's SVG icon (not versioned, so
    cached for a day only)."""
    return Response(_dashboard_file("favicon.svg"), media_type=_TYPES[".svg"],
                    headers={"Cache-Control": "public, max-age=86400",
                             "X-Content-Type-Options": "nosniff"})


def dashboard_file(request: Request) -> Response:
    name = request.path_params["name"]
    suffix = "." + name.rpartition(".")[2]
    if "/" in name or suffix not in _TYPES:
        return Response("Not found", status_code=404, media_type="text/plain")
    try:
        raw = _dashboard_file(name)
    except FileNotFoundError:
        return Response("Not found", status_code=404, media_type="text/plain")
    return _reply(request, raw, None, _TYPES[suffix])
