"""An ASGI app served by uvicorn, with the platform's connection handling, on a real socket."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from tests.support.platform import free_port
from timeledger.server.connection_limits import ConnectionLimits, ServerConfig


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve `app` on a free loopback port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(ServerConfig(app, limits=ConnectionLimits(), host="127.0.0.1",
                                         port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server did not start")
            thread.join(0.02)  # a real server coming up
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
