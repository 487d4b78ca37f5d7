"""uvicorn's HTTP protocol with bounds on how big a request head is and how long a client takes.

uvicorn (httptools) buffers a request head of any size, waits for a body forever, and once any
byte of a next request has arrived no longer times an idle connection out. Here each connection
has one deadline at a time:
- opened, nothing sent yet: `keep_alive_timeout` (uvicorn times out the idle gaps after responses);
- the first byte of a request head: the head must be complete within `header_timeout`, and at
  most `max_header_bytes` long (else 431);
- the head complete: the body must be complete within `body_timeout` (else 408), whether or not
  the app reads it.
A refused request gets a short IMS error and the connection is closed (after a moment of reading
and dropping, so the reply is not lost to a reset). The subclass leans on uvicorn's protocol
attributes (`cycle`, `url`, `headers`); tests/server/test_connection_limits.py holds it to them.
"""

from __future__ import annotations

import asyncio
import http
from dataclasses import dataclass
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from timeledger.server.api.errors import ims_error_body

PROTOCOL = "timeledger.server.connection_limits:BoundedHttpProtocol"
# How long a refused connection is read (and dropped) after its error reply before it closes.
LINGER_S = 2.0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What `timeledger serve` allows a client (its options of the same names)."""

    max_header_bytes: int = 16 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive_timeout: float = 5.0
    limit_concurrency: int = 1000
    shutdown_timeout: float = 10.0


class ServerConfig(uvicorn.Config):
    """uvicorn's config with the protocol below and the limits it reads (picklable, so
    `--workers` processes get it too)."""

    def __init__(self, app: Any, *, limits: ConnectionLimits, **options: Any) -> None:
        # uvicorn types its timeouts as int; its event loop takes any number of seconds.
        keep_alive: Any = limits.keep_alive_timeout
        shutdown: Any = limits.shutdown_timeout
        # ws="none": the platform serves no websockets, so an Upgrade is an ordinary request.
        super().__init__(app, http=PROTOCOL, ws="none", timeout_keep_alive=keep_alive,
                         limit_concurrency=limits.limit_concurrency,
                         timeout_graceful_shutdown=shutdown,
                         h11_max_incomplete_event_size=limits.max_header_bytes, **options)
        self.limits = limits


class _HeadTooLarge(Exception):
    pass


def error_reply(status: int, description: str) -> bytes:
    """A complete HTTP/1.1 error response that closes the connection."""
    body = orjson.dumps(ims_error_body(description))
    return (f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode("ascii") + body


class BoundedHttpProtocol(HttpToolsProtocol):
    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.limits: ConnectionLimits = getattr(config, "limits", None) or ConnectionLimits()
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = True  # waiting for, or reading, a request line and headers
        self._head_bytes = 0
        self._head_too_large = False
        self._discarding = False  # refused: what still arrives is dropped until the close

    # --- the deadline -------------------------------------------------------------------------

    def _arm(self, seconds: float, expired: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _refuse(self, status: int, description: str, *, answer: bool) -> None:
        """Close the connection, answering `status` first if `answer`."""
        self._disarm()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The app's request ends now: its sends are dropped and it reads a disconnect.
            cycle.disconnected = True
            cycle.message_event.set()
        if not answer:
            self.transport.close()
            return
        self.transport.write(error_reply(status, description))
        # Half-close, then read and drop what the client is still sending for a moment: closing
        # with unread data makes the kernel send a reset, which can wipe out the reply.
        self._discarding = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self._arm(LINGER_S, self.transport.close)

    def _no_response_under_way(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _idle_expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def _head_expired(self) -> None:
        self._refuse(408, f"The request head was not received within "
                          f"{self.limits.header_timeout:g} s",
                     answer=self._no_response_under_way())

    def _body_expired(self) -> None:
        # An app that answered without reading the whole body has said all there is to say.
        self._refuse(408, f"The request body was not received within "
                          f"{self.limits.body_timeout:g} s",
                     answer=self.cycle is not None and not self.cycle.response_started)

    def _head_refused(self) -> None:
        self._refuse(431, f"The request head is over {self.limits.max_header_bytes} bytes",
                     answer=self._no_response_under_way())

    # --- uvicorn's protocol, with the deadlines added -----------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.keep_alive_timeout, self._idle_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        if self._in_head:
            if self._head_bytes == 0:
                self._arm(self.limits.header_timeout, self._head_expired)
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.limits.max_header_bytes \
                and not self.transport.is_closing():
            self._head_refused()

    def send_400_response(self, msg: str) -> None:
        # The parser stops on an exception from a callback and uvicorn answers 400: the one
        # raised below is a head over the limit instead.
        if self._head_too_large:
            self._head_refused()
            return
        super().send_400_response(msg)

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            self._head_too_large = True
            raise _HeadTooLarge
        self._in_head = False
        self._head_bytes = 0
        self._arm(self.limits.body_timeout, self._body_expired)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0
        if self.cycle is not None and self.cycle.response_complete:  # answered before read
            self._arm(self.limits.keep_alive_timeout, self._idle_expired)
        else:  # the app has the whole request; uvicorn times the idle gap after its response
            self._disarm()
