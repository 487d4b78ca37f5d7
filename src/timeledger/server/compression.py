"""Gzip for replies worth compressing (pages, stylesheets, query API answers, CSV downloads).

A reply is compressed when the client sends `Accept-Encoding: gzip` and its body is at least
`MINIMUM_BYTES` (a streamed one, such as a CSV download, is compressed chunk by chunk). The
ingest path (`/caliper/...`) passes straight through: its replies are a few hundred bytes and
its requests the platform's hottest, so they pay for no compression wrapper. A reply that is
already encoded (the API docs' pre-gzipped bundle) is sent as it is.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

MINIMUM_BYTES = 1024  # below this gzip saves a few hundred bytes at most
COMPRESS_LEVEL = 6  # zlib's default: nearly level 9's size at a fraction of its CPU
UNCOMPRESSED_PREFIXES = ("/caliper/",)


class CompressedReplies:
    """ASGI middleware: Starlette's GZipMiddleware, except on the ingest path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_BYTES, compresslevel=COMPRESS_LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(UNCOMPRESSED_PREFIXES):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
