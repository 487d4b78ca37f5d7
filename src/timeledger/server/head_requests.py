"""HEAD answers wherever GET does: the request is served as a GET and the body is dropped.

FastAPI's routes accept only the methods they declare, so without this `HEAD /` would be 405.
The reply keeps the GET's status and headers (Content-Length included, as HTTP asks of HEAD);
the OpenAPI document is unchanged.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware: serve HEAD as GET, send the start of the reply and an empty body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        finished = False

        async def headers_only(message: Message) -> None:
            nonlocal finished
            if finished:
                return  # the rest of a streamed body: nobody will read it
            if message["type"] == "http.response.body":
                finished = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        async def until_finished() -> Message:
            # A streaming reply listens for the client leaving: once the headers are out, it has.
            if finished:
                return {"type": "http.disconnect"}
            return await receive()

        await self.app({**scope, "method": "GET"}, until_finished, headers_only)
