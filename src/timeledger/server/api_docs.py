"""`/api/docs`: Swagger UI from files shipped in the package (swagger_ui/), so it works offline."""

from __future__ import annotations

import functools
import gzip
from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

DOCS_PATH = "/api/docs"
# Immutable: each URL names the swagger-ui-dist version (scripts/refresh-swagger-ui.sh sets it).
_IMMUTABLE = "public, max-age=31536000, immutable"
_FILES = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
          "swagger-ui.css": "text/css; charset=utf-8"}


@functools.cache
def swagger_ui_version() -> str:
    return _read("VERSION").decode().strip()


def _read(name: str) -> bytes:
    return resources.files("timeledger.server").joinpath("swagger_ui", name).read_bytes()


@functools.cache
def _file(name: str) -> tuple[bytes, bytes]:
    """A shipped file, and gzipped once (the bundle's 1.7 MB become about 0.5 MB)."""
    raw = _read(name)
    return raw, gzip.compress(raw, compresslevel=6)


def _url(name: str) -> str:
    return f"{DOCS_PATH}/swagger-ui-{swagger_ui_version()}/{name}"


def _docs_page(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title=f"{request.app.title} — API docs",
        swagger_js_url=_url("swagger-ui-bundle.js"), swagger_css_url=_url("swagger-ui.css"),
        swagger_favicon_url="/favicon.ico",
        # Off localhost, Swagger UI would otherwise have an online validator fetch the document.
        swagger_ui_parameters={"validatorUrl": None})


def _asset(request: Request) -> Response:
    name = request.path_params["name"]
    if request.path_params["version"] != swagger_ui_version() or name not in _FILES:
        return Response("Not found", status_code=404, media_type="text/plain")
    raw, compressed = _file(name)
    headers = {"Cache-Control": _IMMUTABLE, "X-Content-Type-Options": "nosniff",
               "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(compressed, media_type=_FILES[name], headers=headers)
    return Response(raw, media_type=_FILES[name], headers=headers)


def install(app: FastAPI) -> None:
    """Serve the docs page and its two files; create the app with `docs_url=None`."""
    app.add_api_route(DOCS_PATH, _docs_page, methods=["GET"], include_in_schema=False)
    app.add_api_route(DOCS_PATH + "/swagger-ui-{version}/{name}", _asset, methods=["GET"],
                      include_in_schema=False)
