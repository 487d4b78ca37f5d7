"""The real background sender thread: wakes on events, end() waits for the acknowledgement."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from tests.sdk.conftest import CONFIG, MATH, USER
from tests.sdk.test_poison import events
from timeledger.sdk import Client
from timeledger.testing import FakePlatform


def make_real(fake: FakePlatform, **kwargs: Any) -> Client:
    return Client("http://platform.test", client_id="app", client_secret="secret",
                  config=CONFIG, transport=fake, outbox=None, rng=random.Random(1), environ={},
                  **kwargs)


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_heartbeats_flow_and_end_waits_for_the_ack(fake: FakePlatform) -> None:
    flushed: list[int] = []
    delivered = threading.Event()

    def on_flush(ms: int) -> None:
        flushed.append(ms)
        delivered.set()

    with make_real(fake, heartbeat_interval=0.05) as client:
        activity = client.activity.start(
            id="a", name="A", course=MATH, user=USER, on_flush=on_flush)
        assert delivered.wait(10)
        receipt = activity.end({"xp_earned": 2})
        assert receipt.delivered is True
        assert client.pending() == []
    assert len(fake.completions) == 1
    assert len(fake.time_spent) >= 2
    assert round(fake.active_seconds() * 1000) == activity.total_active_ms


def test_close_ends_the_activity_and_flushes(fake: FakePlatform) -> None:
    client = make_real(fake, heartbeat_interval=60)
    client.activity.start(id="a", name="A", course=MATH, user=USER)
    wait_until(lambda: client.activity.current is not None
               and client.activity.current.elapsed_ms > 20)
    assert client.close(timeout=5) is True
    assert len(fake.time_spent) == 1 and fake.active_seconds() > 0.02


def test_flush_gives_up_at_its_deadline_during_an_outage(fake: FakePlatform) -> None:
    with make_real(fake) as client:
        fake.fail(503, times=1000)
        client.activity.record(user=USER, activity={"id": "a", "name": "A", "course": MATH},
                               metrics={"xp_earned": 1}, wait=False)
        started = time.monotonic()
        assert client.flush(timeout=0.3) is False
        assert time.monotonic() - started < 2
        assert len(client.pending()) == 1
        fake.replies.clear()
        client.sender.delivery.blocked_until = None
        assert client.flush(timeout=5) is True


def test_the_sender_lingers_batch_interval_to_batch_events(fake: FakePlatform) -> None:
    """Events queued within `batch_interval` of the first travel in one envelope."""
    activity = {"id": "a", "name": "A", "course": MATH}
    with make_real(fake, batch_interval=2.0) as client:
        client.activity.record(user=USER, activity=activity, metrics={"xp_earned": 1},
                               wait=False)
        threading.Event().wait(0.3)  # real time passes: without lingering, one would go alone
        for xp in (2, 3):
            client.activity.record(user=USER, activity=activity, metrics={"xp_earned": xp},
                                   wait=False)
        wait_until(lambda: len(fake.completions) == 3)
        assert [len(envelope["data"]) for envelope in fake.envelopes] == [3]


def test_the_worker_wakes_when_a_held_event_may_go_again(fake: FakePlatform) -> None:
    """An event that failed alone is retried when its hold ends, with no other wake-up."""
    with make_real(fake, poll_interval=3600, batch_interval=1.0) as client:
        good, bad = events(client, 2)
        fake.poison([bad["id"]])
        client.enqueue(good)  # the worker lingers a second: both travel in one envelope
        client.enqueue(bad)
        wait_until(lambda: client.pending() != [] and client.pending()[0].held)
        assert list(fake.events) == [good["id"]] and client.pending()[0].strikes == 1
        fake.poisoned.clear()
        wait_until(lambda: len(fake.events) == 2)  # its hold (at most 1 s) ends: sent again
        assert client.pending() == [] and client.dead_letters() == []
