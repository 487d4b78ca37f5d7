"""HTML 404 and 500 pages for browsers; API clients keep the IMS JSON error body.

A request whose Accept header prefers text/html over application/json (what a browser sends when
following a link) gets a page in the dashboard's look instead of the JSON reply. The 500 page
says only that something failed: never the error, its message or a traceback (those go to the
log, written by api/errors.py). The 404 page carries the signed-in viewer's navigation. Replies
that are HTML already (the dashboard's own pages) pass.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from timeledger.server.dashboard.guard import Viewer, viewer_of
from timeledger.server.dashboard.rendering import render

logger = logging.getLogger(__name__)

_PAGES = {
    404: ("Not found", "There is no page at this address."),
    500: ("Something went wrong", "The platform could not answer this request; nothing you sent "
                                  "was changed. The details are in the platform's log."),
}


def _quality(accept: str, media_type: str) -> float:
    """The q a header gives a media type: its own entry, else type/*, else */*, else 0."""
    kind = media_type.split("/")[0] + "/*"
    best: dict[str, float] = {}
    for entry in accept.split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best[name.lower()] = max(q, best.get(name.lower(), 0.0))
    for candidate in (media_type, kind, "*/*"):
        if candidate in best:
            return best[candidate]
    return 0.0


def prefers_html(accept: str) -> bool:
    return _quality(accept, "text/html") > _quality(accept, "application/json")


class BrowserErrorPages:
    """ASGI middleware: a 404 or 500 reply that is not HTML becomes a page, for browsers only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not prefers_html(Headers(scope=scope).get("accept", "")):
            await self.app(scope, receive, send)
            return
        replaced: int | None = None

        async def pages_for_errors(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start":
                content_type = Headers(raw=message["headers"]).get("content-type", "")
                if message["status"] in _PAGES and not content_type.startswith("text/html"):
                    replaced = message["status"]
                    return
            elif replaced is not None and message["type"] == "http.response.body":
                if not message.get("more_body", False):  # the JSON body is dropped, unread
                    await self._page(scope, receive, send, replaced)
                return
            await send(message)

        await self.app(scope, receive, pages_for_errors)

    @staticmethod
    async def _page(scope: Scope, receive: Receive, send: Send, status: int) -> None:
        heading, message = _PAGES[status]
        request = Request(scope, receive)
        # A 404 page carries the viewer's navigation; a 500 touches the store no further.
        viewer = await _viewer(request) if status == 404 else None
        page = render(request, viewer, "error.html",
                      {"heading": heading, "message": message, "status": status}, status=status)
        await page(scope, receive, send)


async def _viewer(request: Request) -> Viewer | None:
    """Who is looking, for the navigation; nobody if the store cannot say (the page still
    answers)."""
    try:
        return await viewer_of(request)
    except SQLAlchemyError:
        logger.warning("a 404 page without navigation: the sign-in store did not answer",
                       exc_info=True)
        return None
