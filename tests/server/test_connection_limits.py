"""Slow, stalled and oversized clients are cut off within bounds, on real sockets against a real
server started with short limits (the same options as in production, smaller numbers)."""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.platform import PlatformProcess

TIMEOUT_S = 1.0
MAX_HEADER_BYTES = 8192
# Generous: the server must close within its timeout; this only bounds how long a test waits.
CLOSE_DEADLINE_S = 20.0
# The token endpoint reads its body before anything else, so it waits for the rest of it.
STALLED_BODY = (b"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n"
                b"\r\ngrant_type=")
# Answered (401: no token) before its body is read; the rest of the body never comes.
UNREAD_BODY = (b"POST /caliper/event HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    options = ["--header-timeout", str(TIMEOUT_S), "--body-timeout", str(TIMEOUT_S),
               "--keep-alive-timeout", str(TIMEOUT_S), "--max-header-bytes",
               str(MAX_HEADER_BYTES)]
    with PlatformProcess(tmp_path_factory.mktemp("limited"), extra_args=options) as running:
        yield running


def _connect(platform: PlatformProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", platform.port), timeout=CLOSE_DEADLINE_S)


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset counts as closed)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def test_300_stalled_bodies_are_all_closed_with_408(limited: PlatformProcess) -> None:
    sockets = [_connect(limited) for _ in range(300)]
    for sock in sockets:
        sock.sendall(STALLED_BODY)
        sock.setblocking(False)
    # While they stall, others are served.
    assert httpx.get(f"{limited.base_url}/healthz", timeout=10).status_code == 200
    replies: dict[socket.socket, bytes] = {sock: b"" for sock in sockets}
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    deadline = time.monotonic() + CLOSE_DEADLINE_S
    open_count = len(sockets)
    while open_count and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            ready = key.fileobj
            assert isinstance(ready, socket.socket)
            try:
                chunk = ready.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if chunk:
                replies[ready] += chunk
            else:
                selector.unregister(ready)
                ready.close()
                open_count -= 1
    assert open_count == 0, f"{open_count} stalled connections still open"
    assert all(reply.startswith(b"HTTP/1.1 408 ") for reply in replies.values())
    assert b"request body was not received within 1 s" in next(iter(replies.values()))


def test_a_body_sent_drop_by_drop_is_cut_off_too(limited: PlatformProcess) -> None:
    """The body timeout counts from the headers, not from the last byte."""
    sock = _connect(limited)
    sock.sendall(STALLED_BODY)
    sock.settimeout(0.2)
    started = time.monotonic()
    received = b""
    try:
        while time.monotonic() - started < CLOSE_DEADLINE_S:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                sock.sendall(b" ")  # another drop, every 0.2 s
                continue
            if not chunk:
                break
            received += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        sock.close()
    assert received.startswith(b"HTTP/1.1 408 ")


def test_a_stalled_head_gets_408_and_an_idle_connection_is_closed(
        limited: PlatformProcess) -> None:
    with _connect(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert _read_until_closed(sock).startswith(b"HTTP/1.1 408 ")
    with _connect(limited) as sock:
        assert _read_until_closed(sock) == b""  # opened, never used: closed quietly
    with _connect(limited) as sock:  # answered before the body came: closed after the timeout
        sock.sendall(UNREAD_BODY)
        reply = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 401 ") and b"HTTP/1.1 408" not in reply
    with _connect(limited) as sock:  # idle after a response: closed too
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b'{"status":"ok"}')


def test_a_200_kb_header_is_refused(limited: PlatformProcess) -> None:
    with _connect(limited) as sock:
        # The server may stop reading before all of it is sent; its reply still arrives.
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
                         + b"x" * 200_000 + b"\r\n\r\n")
        reply = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
    # Headers within the limit are served.
    fits = httpx.get(f"{limited.base_url}/healthz", headers={"X-Fits": "x" * 4000}, timeout=10)
    assert fits.status_code == 200
    just_over = httpx.get(f"{limited.base_url}/healthz",
                          headers={"X-Over": "x" * MAX_HEADER_BYTES}, timeout=10)
    assert just_over.status_code == 431
    assert "over 8192 bytes" in just_over.json()["imsx_description"]


def test_connections_past_the_concurrency_limit_get_503(tmp_path: Path) -> None:
    with PlatformProcess(tmp_path, extra_args=["--limit-concurrency", "4",
                                               "--body-timeout", "30"]) as small:
        held = [_connect(small) for _ in range(4)]
        try:
            for sock in held:
                sock.sendall(STALLED_BODY)
            with _connect(small) as extra:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              b"Connection: close\r\n\r\n")
                assert _read_until_closed(extra).startswith(b"HTTP/1.1 503 ")
        finally:
            for sock in held:
                sock.close()
        assert httpx.get(f"{small.base_url}/healthz", timeout=10).status_code == 200
