"""The SDK against a real platform: exact totals through outages, restarts and a killed sender."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from support.platform import PlatformProcess
from timeledger.sdk import Client
from timeledger.sdk.outbox import Outbox
from timeledger.testing import FakeClock

from .conftest import CONFIG, MATH
from .proxy import SwitchableProxy

DAY = "2025-03-03"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def credentials(platform: PlatformProcess) -> tuple[str, str]:
    return platform.create_client("sdk-tests")


@pytest.fixture
def proxy(platform: PlatformProcess) -> Iterator[SwitchableProxy]:
    running = SwitchableProxy(platform.base_url)
    yield running
    running.close()


def learner() -> dict[str, str]:
    return {"email": f"sdk-{uuid.uuid4().hex[:10]}@example.edu", "id": uuid.uuid4().hex[:8]}


def manual_client(base_url: str, credentials: tuple[str, str], clock: FakeClock,
                  outbox: Path | None = None, **kwargs: Any) -> Client:
    """Heartbeats on a fake clock, delivery inline over real HTTP: exact and deterministic."""
    return Client(base_url, client_id=credentials[0], client_secret=credentials[1],
                  config=CONFIG, clock=clock, outbox=str(outbox) if outbox else None,
                  environ={}, **kwargs)


def summary(platform: PlatformProcess, email: str) -> dict[str, Any]:
    body: dict[str, Any] = platform.get(f"/api/v1/learners/{email}/summary")
    return body


def run_view(platform: PlatformProcess, run_id: str) -> dict[str, Any]:
    body: dict[str, Any] = platform.get(f"/api/v1/runs/{run_id}")
    return body


def assert_day(platform: PlatformProcess, email: str, active_minutes: float, xp: float,
               completions: int) -> None:
    days = summary(platform, email)["days"]
    assert [(d["date"], d["active_minutes"], d["xp"], d["completions"]) for d in days] == [
        (DAY, active_minutes, xp, completions)]


def assert_run(platform: PlatformProcess, run_id: str, active_seconds: float, heartbeats: int,
               xp: float | None) -> None:
    run = run_view(platform, run_id)
    assert run["active_seconds"] == active_seconds
    assert run["heartbeats"] == heartbeats
    if xp is None:
        assert run["completion"] is None
    else:
        assert run["completion"]["xp"] == xp


def test_single_session_three_windows_and_metrics(
        platform: PlatformProcess, credentials: tuple[str, str]) -> None:
    user, clock = learner(), FakeClock(T0)
    with manual_client(platform.base_url, credentials, clock) as client:
        activity = client.activity.start(id="fractions-1", name="Fractions 1", course=MATH,
                                         user=user, time={"heartbeat_interval": 60})
        clock.advance(180)
        receipt = activity.end({"xp_earned": 3, "total_questions": 4, "correct_questions": 4})
        assert receipt.delivered is True
        assert client.pending() == [] and client.dead_letters() == []
    assert_run(platform, activity.run_id, 180.0, 3, 3)
    assert run_view(platform, activity.run_id)["flags"] == []
    assert_day(platform, user["email"], 3.0, 3, 1)


def test_stateful_run_two_sessions_then_record(
        platform: PlatformProcess, credentials: tuple[str, str]) -> None:
    user, clock, run_id = learner(), FakeClock(T0), str(uuid.uuid4())
    with manual_client(platform.base_url, credentials, clock) as client:
        first = client.activity.start(id="fractions-2", name="Fractions 2", course=MATH,
                                      user=user, run_id=run_id)
        clock.advance(60)
        first.pause()
        clock.advance(10)
        first.end()  # 4 active windows and a final one of 10 s inactive
        clock.advance(3600)
        second = client.activity.start(id="fractions-2", name="Fractions 2", course=MATH,
                                       user=user, run_id=run_id)
        clock.advance(90)
        second.end()  # 6 windows
        assert client.flush()
        receipt = client.activity.record(
            user=user, run_id=run_id, metrics={"xp_earned": 2, "mastered_units": 1},
            activity={"id": "fractions-2", "name": "Fractions 2", "course": MATH})
        assert receipt.delivered is True
    assert_run(platform, run_id, 150.0, 11, 2)
    run = run_view(platform, run_id)
    assert run["inactive_seconds"] == 10.0 and run["flags"] == []
    assert_day(platform, user["email"], 2.5, 2, 1)


def test_503_for_a_while_then_recovery(
        platform: PlatformProcess, credentials: tuple[str, str], proxy: SwitchableProxy) -> None:
    user, clock = learner(), FakeClock(T0)
    errors: list[Exception] = []
    with manual_client(proxy.url, credentials, clock, on_error=lambda e, c: errors.append(e),
                       retry_attempts=10) as client:
        activity = client.activity.start(id="fractions-3", name="Fractions 3", course=MATH,
                                         user=user)
        clock.advance(15)
        assert client.flush()
        proxy.outage(True)
        clock.advance(30)
        assert client.flush() is False
        receipt = activity.end({"xp_earned": 1})
        assert receipt.delivered is False and activity.is_ended
        assert [row.kind for row in client.pending()] == ["heartbeat", "heartbeat", "completion"]
        ids = [row.event_id for row in client.pending()]
        for _ in range(3):  # still down: backoff, retry, fail
            clock.advance(60)
            assert client.flush() is False
        refused = proxy.refused
        assert refused >= 4
        proxy.outage(True, retry_after="120")
        clock.advance(60)
        client.flush()
        clock.advance(119)
        client.flush()
        assert proxy.refused == refused + 1  # Retry-After: 120 was honoured
        proxy.outage(False)
        clock.advance(1)
        assert client.flush() is True
        assert errors == []  # a transient outage is not an error
    assert_run(platform, activity.run_id, 45.0, 3, 1)
    for event_id in ids:  # the events delivered after the outage are stored under their ids
        assert platform.get(f"/caliper/events/{event_id}")["eventId"] == event_id


def test_platform_stopped_during_a_session_and_restarted(
        make_platform: Callable[..., PlatformProcess], tmp_path: Path) -> None:
    platform = make_platform()
    credentials = platform.create_client("sdk-restart")
    user, clock = learner(), FakeClock(T0)
    with manual_client(platform.base_url, credentials, clock,
                       outbox=tmp_path / "outbox.sqlite3") as client:
        activity = client.activity.start(id="fractions-4", name="Fractions 4", course=MATH,
                                         user=user)
        clock.advance(30)
        assert client.flush()
        platform.stop()
        clock.advance(60)
        assert client.flush() is False
        receipt = activity.end({"xp_earned": 1, "total_questions": 2, "correct_questions": 1})
        assert receipt.delivered is False
        assert len(client.pending()) == 5
        platform.start()
        clock.advance(120)
        assert client.flush() is True
    assert_run(platform, activity.run_id, 90.0, 6, 1)
    assert_day(platform, user["email"], 1.5, 1, 1)


SENDER = textwrap.dedent("""
    import sys
    from timeledger.sdk import Client
    url, client_id, secret, outbox = sys.argv[1:5]
    client = Client(url, client_id=client_id, client_secret=secret, outbox=outbox,
                    max_batch_events=10, batch_interval=0, environ={}, config={
                        "name": "x", "sensor": "https://quiz.example.com", "courses": []})
    print("started", flush=True)
    client.flush(timeout=120)
    print("flushed", flush=True)
""")


def test_sender_killed_mid_batch_and_a_new_process_finishes(
        platform: PlatformProcess, credentials: tuple[str, str], proxy: SwitchableProxy,
        tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    user, clock = learner(), FakeClock(T0)
    windows = 120
    # queue 120 heartbeats and a completion, with the platform unreachable
    with manual_client("http://127.0.0.1:9", credentials, clock, outbox=outbox) as app:
        activity = app.activity.start(id="fractions-5", name="Fractions 5", course=MATH,
                                      user=user)
        clock.advance(15 * windows)
        activity.end({"xp_earned": 30}, wait=False)
        assert app.close(timeout=0) is False
    proxy.delay = 0.05
    child = subprocess.Popen([sys.executable, "-c", SENDER, proxy.url, *credentials,
                              str(outbox)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 60
        while proxy.forwarded < 4:
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.005)  # watching a real process make progress
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    left = Outbox(outbox, FakeClock())
    remaining = len(left.pending())
    left.close()
    assert 0 < remaining < windows + 1
    proxy.delay = 0
    with Client(proxy.url, client_id=credentials[0], client_secret=credentials[1],
                outbox=str(outbox), config=CONFIG, environ={}, batch_interval=0) as finisher:
        assert finisher.flush(timeout=60) is True
        assert finisher.dead_letters() == []
    assert_run(platform, activity.run_id, 15.0 * windows, windows, 30)
    assert_day(platform, user["email"], 30.0, 30, 1)
