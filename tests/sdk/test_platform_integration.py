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

from tests.sdk.conftest import CONFIG, MATH
from tests.sdk.proxy import SwitchableProxy
from tests.support.platform import PlatformProcess
from timeledger.sdk import Client
from timeledger.sdk.outbox import Outbox
from timeledger.testing import FakeClock

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
BATCH = 10


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
    # the proxy holds each reply 1 s after the platform stored the batch: killed then, the
    # sender has delivered a batch it never saw acknowledged
    proxy.reply_delay = 1.0
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
    stored_before_kill = proxy.forwarded
    left = Outbox(outbox, FakeClock())
    remaining = len(left.pending())
    left.close()
    # every batch but the last one reached the platform was acknowledged; the last is still
    # queued (its lease died with the process), so the next process sends it a second time
    assert remaining == windows + 1 - BATCH * (stored_before_kill - 1)
    proxy.reply_delay = 0
    with Client(proxy.url, client_id=credentials[0], client_secret=credentials[1],
                outbox=str(outbox), config=CONFIG, environ={}, batch_interval=0) as finisher:
        assert finisher.flush(timeout=60) is True
        assert finisher.dead_letters() == []
    assert proxy.forwarded > stored_before_kill
    # ... and the platform counted every event once: no duplicate, nothing lost
    assert_run(platform, activity.run_id, 15.0 * windows, windows, 30)
    assert_day(platform, user["email"], 30.0, 30, 1)


APP = textwrap.dedent("""
    import json, sys
    from timeledger import Client
    url, client_id, secret, outbox, run_id, email, config = sys.argv[1:8]
    client = Client(url, client_id=client_id, client_secret=secret, outbox=outbox,
                    environ={}, config=json.loads(config))
    activity = client.activity.start(id="fractions-6", name="Fractions 6",
                                     course={"subject": "Math", "grade": 3},
                                     user={"email": email}, run_id=run_id, time=False)
    receipt = activity.end({"xp_earned": 2}, time={"active": 60000, "inactive": 5000})
    print("ended", receipt.delivered, len(client.pending()), flush=True)
    sys.stdin.readline()
""")


def wait_until_empty(client: Client, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while client.pending():
        assert time.monotonic() < deadline, "the outbox was not emptied"
        time.sleep(0.02)  # watching a real background thread make progress


def test_app_killed_after_end_returns_and_the_next_client_sends_on_open(
        platform: PlatformProcess, credentials: tuple[str, str], tmp_path: Path) -> None:
    """`end()` has written its events durably when it returns; the next Client on that outbox
    sends them by itself (no flush call; its poll interval is far longer than the test)."""
    import json

    outbox, user, run_id = tmp_path / "outbox.sqlite3", learner(), str(uuid.uuid4())
    child = subprocess.Popen(
        [sys.executable, "-c", APP, "http://127.0.0.1:9", *credentials, str(outbox), run_id,
         user["email"], json.dumps(CONFIG)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().split() == ["ended", "False", "2"]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    with Client(platform.base_url, client_id=credentials[0], client_secret=credentials[1],
                outbox=str(outbox), config=CONFIG, environ={}, poll_interval=3600) as client:
        wait_until_empty(client)
    run = run_view(platform, run_id)
    assert (run["active_seconds"], run["inactive_seconds"], run["heartbeats"]) == (60.0, 5.0, 1)
    assert run["completion"]["xp"] == 2


EXITING = textwrap.dedent("""
    import json, sys
    from timeledger import Client
    url, client_id, secret, outbox, run_id, email, config = sys.argv[1:8]
    client = Client(url, client_id=client_id, client_secret=secret, outbox=outbox,
                    environ={}, config=json.loads(config), batch_interval=3600,
                    poll_interval=3600)
    client.activity.record(user={"email": email}, run_id=run_id, metrics={"xp_earned": 4},
                           activity={"id": "fractions-7", "name": "Fractions 7",
                                     "course": {"subject": "Math", "grade": 3}}, wait=False)
    print("queued", flush=True)
    # no close(): the interpreter exits, and the exit hook flushes
""")


def run_exiting_app(url: str, credentials: tuple[str, str], outbox: Path, run_id: str,
                    email: str) -> float:
    """Seconds from the app queueing its completion to its process having exited."""
    import json

    child = subprocess.Popen(
        [sys.executable, "-c", EXITING, url, *credentials, str(outbox), run_id, email,
         json.dumps(CONFIG)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "queued"
    queued = time.monotonic()
    assert child.wait(timeout=60) == 0
    return time.monotonic() - queued


def test_exit_flushes_what_is_queued(
        platform: PlatformProcess, credentials: tuple[str, str], tmp_path: Path) -> None:
    """The sender lingers an hour before sending; only the exit hook's flush can deliver."""
    outbox, user, run_id = tmp_path / "outbox.sqlite3", learner(), str(uuid.uuid4())
    run_exiting_app(platform.base_url, credentials, outbox, run_id, user["email"])
    assert run_view(platform, run_id)["completion"]["xp"] == 4
    left = Outbox(outbox, FakeClock())
    assert left.pending() == []
    left.close()


def test_exit_flush_is_bounded_and_keeps_what_it_could_not_send(
        platform: PlatformProcess, credentials: tuple[str, str], tmp_path: Path) -> None:
    outbox, user, run_id = tmp_path / "outbox.sqlite3", learner(), str(uuid.uuid4())
    took = run_exiting_app("http://127.0.0.1:9", credentials, outbox, run_id, user["email"])
    assert took >= 1.8 and took < 30  # it tried for the default 2 s flush_timeout, then exited
    left = Outbox(outbox, FakeClock())
    assert [row.kind for row in left.pending()] == ["completion"]
    left.close()
    with Client(platform.base_url, client_id=credentials[0], client_secret=credentials[1],
                outbox=str(outbox), config=CONFIG, environ={}) as client:
        assert client.flush(timeout=30) is True
    assert run_view(platform, run_id)["completion"]["xp"] == 4


def test_completion_wait_is_bounded_by_the_configured_time(
        platform: PlatformProcess, credentials: tuple[str, str], proxy: SwitchableProxy) -> None:
    """A platform slower than `completion_timeout`: record returns undelivered, still queued."""
    user = learner()
    first_run, second_run = str(uuid.uuid4()), str(uuid.uuid4())
    activity = {"id": "fractions-8", "name": "Fractions 8", "course": MATH}
    proxy.reply_delay = 3.0
    with Client(proxy.url, client_id=credentials[0], client_secret=credentials[1],
                config=CONFIG, outbox=None, environ={}, batch_interval=0,
                completion_timeout=0.3) as client:
        receipt = client.activity.record(user=user, activity=activity, run_id=first_run,
                                         metrics={"xp_earned": 1})
        assert receipt.delivered is False
        assert [row.event_id for row in client.pending()] == [receipt.completion_id]
        proxy.reply_delay = 0
        second = client.activity.record(user=user, activity=activity, run_id=second_run,
                                        metrics={"xp_earned": 2}, timeout=30)
        assert second.delivered is True  # the argument overrides completion_timeout
        assert client.flush(timeout=30) is True
    assert run_view(platform, first_run)["completion"]["xp"] == 1
    assert run_view(platform, second_run)["completion"]["xp"] == 2
