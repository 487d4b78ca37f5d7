"""The server killed with SIGKILL in the middle of a stream of sends: what it acknowledged is
stored, and after the sender resends the rest every event is stored and counted exactly once."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx

from tests.support.events import T0, heartbeat, unique_email, wrap
from tests.support.platform import PlatformProcess
from tests.support.postgres import Backend
from tests.support.stored_events import stored_event_ids

ENVELOPES = 160
SENDERS = 4
KILL_AFTER_ACKS = 50
ACTIVE_S = 30


def test_a_server_killed_mid_stream_loses_nothing_it_acknowledged_and_counts_each_once(
        backend: Backend, tmp_path: Path) -> None:
    platform = PlatformProcess(tmp_path / "platform", db_url=backend.new_db_url()).start()
    try:
        email, run_id = unique_email("crash"), str(uuid.uuid4())
        envelopes = [wrap(heartbeat(email, run_id, T0 + timedelta(minutes=i), ACTIVE_S))
                     for i in range(ENVELOPES)]
        token = platform.token()
        acknowledged: set[int] = set()
        lock = threading.Lock()
        killed = threading.Event()
        assert platform.process is not None
        pid = platform.process.pid

        def send(index: int) -> None:
            try:
                reply = httpx.post(f"{platform.base_url}/caliper/event", json=envelopes[index],
                                   headers={"Authorization": f"Bearer {token}"}, timeout=30)
            except httpx.HTTPError:
                return  # not acknowledged: the sender will resend it
            if reply.status_code == 200:
                with lock:
                    acknowledged.add(index)
                    if len(acknowledged) == KILL_AFTER_ACKS and not killed.is_set():
                        os.kill(pid, signal.SIGKILL)  # with other sends in flight
                        killed.set()

        with ThreadPoolExecutor(SENDERS) as pool:
            list(pool.map(send, range(ENVELOPES)))
        assert killed.is_set()
        assert KILL_AFTER_ACKS <= len(acknowledged) < ENVELOPES
        platform.stop()  # reaps the killed process

        platform.start()  # the same store and port
        acked_ids = {envelopes[i]["data"][0]["id"] for i in acknowledged}
        assert acked_ids <= set(stored_event_ids(platform, email))  # acknowledged = durable
        for index in sorted(set(range(ENVELOPES)) - acknowledged):
            assert platform.send(envelopes[index]).status_code == 200, index

        stored = stored_event_ids(platform, email)
        assert len(stored) == ENVELOPES
        assert set(stored) == {envelope["data"][0]["id"] for envelope in envelopes}
        run = platform.get(f"/api/v1/runs/{run_id}", consistent="true")
        assert run["heartbeats"] == ENVELOPES
        assert run["active_seconds"] == ENVELOPES * ACTIVE_S
    finally:
        platform.stop()
