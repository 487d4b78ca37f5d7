"""SIGTERM and SIGINT both stop `serve` cleanly: a request in flight is finished, the process
exits 0, and an SQLite store is left as one self-contained file (no -wal)."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import time
from datetime import timedelta

import pytest

from tests.support.events import T0, heartbeat, unique_email, wrap
from tests.support.platform import NewStore, PlatformProcess

RUN = "3c1f4a52-9b1e-4c1e-8d3a-5b7f2f1e9a10"
DEADLINE_S = 30.0


def _wait_until_not_accepting(port: int) -> None:
    """The server closes its listening socket as soon as it starts shutting down."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return
        time.sleep(0.02)  # a real process reacting to a signal
    raise AssertionError("the server kept accepting connections after the signal")


def _read_response(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_signal_finishes_the_request_in_flight_and_leaves_a_whole_store(
        new_store: NewStore, stop_signal: signal.Signals) -> None:
    store = new_store("data")
    platform = PlatformProcess(store.data_dir, db_url=store.db_url).start()
    email = unique_email()
    try:
        for minute in range(2):
            event = heartbeat(email, RUN, T0 + timedelta(minutes=minute), 15)
            assert platform.send(wrap(event)).status_code == 200
        body = json.dumps(wrap(heartbeat(email, RUN, T0 + timedelta(minutes=2), 15))).encode()
        head = (f"POST /caliper/event HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {platform.token()}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        with socket.create_connection(("127.0.0.1", platform.port), timeout=DEADLINE_S) as sock:
            sock.sendall(head.encode() + body[:20])  # the request is in flight...
            assert platform.process is not None
            platform.process.send_signal(stop_signal)
            _wait_until_not_accepting(platform.port)
            sock.sendall(body[20:])  # ...and is finished after the signal
            reply = _read_response(sock)
        assert reply.startswith(b"HTTP/1.1 200 "), reply[:300]
        assert b'"jobId"' in reply
        assert platform.process.wait(timeout=DEADLINE_S) == 0
    finally:
        platform.stop()
    if store.db_url is None:
        database = store.data_dir / "timeledger.sqlite3"
        assert not database.with_name(database.name + "-wal").exists()
        connection = sqlite3.connect(database)
        try:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            connection.close()
    assert store.stored_events(email) == 3
