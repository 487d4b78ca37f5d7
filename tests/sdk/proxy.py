"""A small real HTTP proxy on 127.0.0.1 in front of the platform, switchable to answer 503."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
               "content-encoding"}


class SwitchableProxy:
    """Forwards every request to `upstream`; `outage(True)` makes it answer 503 instead.

    `reply_delay` holds the reply to an event post after the platform has stored the batch (so
    a sender killed then has sent a batch it never saw acknowledged, and a client waiting for
    an acknowledgement waits); `forwarded` counts the event posts that reached the platform.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.failing = False
        self.retry_after: str | None = None
        self.reply_delay = 0.0
        self.forwarded = 0
        self.refused = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                proxy._forward(self, "GET")

            def do_POST(self) -> None:
                proxy._forward(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._http = httpx.Client(timeout=30)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def outage(self, failing: bool, retry_after: str | None = None) -> None:
        self.failing = failing
        self.retry_after = retry_after

    def _forward(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if self.failing:
            with self._lock:
                self.refused += 1
            payload = b'{"imsx_codeMajor":"failure","imsx_description":"Service Unavailable"}'
            handler.send_response(503)
            if self.retry_after is not None:
                handler.send_header("Retry-After", self.retry_after)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_HEADERS}
        try:
            reply = self._http.request(method, self.upstream + handler.path, headers=headers,
                                       content=body)
        except httpx.HTTPError:
            handler.send_response(502)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        event_post = handler.path.startswith("/caliper/event") and reply.status_code == 200
        if event_post:
            with self._lock:
                self.forwarded += 1
            if self.reply_delay:
                time.sleep(self.reply_delay)  # real latency is the point of this knob
        try:
            handler.send_response(reply.status_code)
            for key, value in reply.headers.items():
                if key.lower() not in HOP_HEADERS:
                    handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(reply.content)))
            handler.end_headers()
            handler.wfile.write(reply.content)
        except OSError:  # the client went away (killed mid-batch): nothing to answer
            handler.close_connection = True

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()
