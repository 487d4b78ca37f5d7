"""The durable outbox: survives reopening, leases rows exclusively, remembers every id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from timeledger.sdk.clock import SystemClock
from timeledger.sdk.outbox import NewEvent, Outbox
from timeledger.testing import FakeClock


def event(n: int, sensor: str = "https://a.example.com") -> NewEvent:
    return NewEvent(f"urn:uuid:00000000-0000-4000-8000-{n:012d}", "heartbeat", "run", sensor,
                    b'{"id": %d}' % n)


def test_rows_survive_reopening_and_ids_are_remembered(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    clock = FakeClock()
    first = Outbox(path, clock)
    assert first.add([event(1), event(2)]) == [True, True]
    first.ack(first.claim(1, 10_000))
    first.close()
    second = Outbox(path, clock)
    assert [row.event_id for row in second.pending()] == [event(2).event_id]
    assert second.add([event(1), event(3)]) == [False, True]  # 1 was delivered, still seen
    assert second.state(event(1).event_id) == ("delivered", None)
    assert second.state(event(2).event_id) == ("pending", None)
    second.close()


def test_claims_are_exclusive_between_outboxes(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    clock = SystemClock()
    one, two = Outbox(path, clock), Outbox(path, clock)
    one.add([event(n) for n in range(200)])
    claimed: list[list[str]] = [[], []]

    def drain(box: Outbox, into: list[str]) -> None:
        while rows := box.claim(7, 100_000):
            into.extend(row.event_id for row in rows)
            box.ack(rows)

    threads = [threading.Thread(target=drain, args=(box, into))
               for box, into in zip((one, two), claimed, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed[0] + claimed[1]) == sorted(event(n).event_id for n in range(200))
    assert not set(claimed[0]) & set(claimed[1])
    one.close()
    two.close()


def test_leases_expire_and_are_released(tmp_path: Path) -> None:
    clock = FakeClock()
    one = Outbox(tmp_path / "o.sqlite3", clock, lease_seconds=30)
    two = Outbox(tmp_path / "o.sqlite3", clock, lease_seconds=30)
    one.add([event(1)])
    assert len(one.claim(10, 10_000)) == 1
    assert two.claim(10, 10_000) == []
    clock.advance(31)
    rows = two.claim(10, 10_000)
    assert len(rows) == 1
    released = two.release(rows, "HTTP 503")
    assert released[0].attempts == 1
    assert one.claim(10, 10_000)[0].attempts == 1


def test_batches_are_one_sensor_and_bounded_by_bytes(tmp_path: Path) -> None:
    box = Outbox(":memory:", FakeClock())
    box.add([event(1, "https://a"), event(2, "https://b"), event(3, "https://a")])
    assert [row.event_id[-1] for row in box.claim(10, 10_000)] == ["1", "3"]
    assert [row.event_id[-1] for row in box.claim(10, 10_000)] == ["2"]
    box.add([event(n) for n in range(4, 8)])
    size = box.pending()[-1].size
    assert len(box.claim(10, size * 2)) == 2
    assert len(box.claim(10, 1)) == 1  # one event always goes, even if larger than the limit


def test_bury_keeps_a_dead_letter(tmp_path: Path) -> None:
    box = Outbox(":memory:", FakeClock())
    box.add([event(1), event(2)])
    rows = box.claim(10, 10_000)
    box.bury(rows[0], "HTTP 400: bad")
    box.release(rows[1:], "HTTP 503")
    assert [(r.event_id, r.last_error) for r in box.dead()] == [(event(1).event_id,
                                                                "HTTP 400: bad")]
    assert [r.event_id for r in box.pending()] == [event(2).event_id]
    assert [r.event_id for r in box.claim(10, 10_000)] == [event(2).event_id]
    assert box.state(event(1).event_id) == ("dead", "HTTP 400: bad")


def test_a_killed_process_leases_are_released_on_open(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    seeded = Outbox(path, SystemClock(), lease_seconds=3600)
    seeded.add([event(n) for n in range(5)])
    seeded.close()
    script = textwrap.dedent(f"""
        import sys, time
        from timeledger.sdk.clock import SystemClock
        from timeledger.sdk.outbox import Outbox
        box = Outbox({str(path)!r}, SystemClock(), lease_seconds=3600)
        print(len(box.claim(3, 100000)), flush=True)
        sys.stdin.readline()
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "3"
    alive = Outbox(path, SystemClock(), lease_seconds=3600)
    assert len(alive.claim(10, 100_000)) == 2  # the child still holds three
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    reopened = Outbox(path, SystemClock(), lease_seconds=3600)
    assert len(reopened.claim(10, 100_000)) == 3
    alive.close()  # gives its two leases back
    assert len(reopened.claim(10, 100_000)) == 2
    reopened.close()


DAY = 86400.0


def test_delivered_ids_are_forgotten_after_the_retention_but_pending_ones_never(
        tmp_path: Path) -> None:
    clock = FakeClock()
    outbox = Outbox(tmp_path / "outbox.sqlite3", clock, seen_retention=30 * DAY)
    outbox.add([event(1), event(2)])
    outbox.ack(outbox.claim(1, 10_000))  # day 0: 1 delivered; 2 waits (the platform refuses)

    clock.advance(29 * DAY)
    outbox.add([event(3)])
    outbox.ack([row for row in outbox.claim(10, 10_000) if row.event_id == event(3).event_id])
    assert outbox.add([event(1)]) == [False]  # 29 days on: still a duplicate

    clock.advance(2 * DAY)
    outbox.ack([])  # any acknowledgement does the housekeeping
    assert outbox.add([event(1)]) == [True]  # 31 days on: forgotten, so queued again
    assert outbox.add([event(2)]) == [False]  # still waiting in the outbox: kept at any age
    assert outbox.add([event(3)]) == [False]  # delivered 2 days ago: kept
    outbox.close()
