"""The durable outbox: survives reopening, leases rows exclusively, remembers every id."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from timeledger.sdk.clock import SystemClock
from timeledger.sdk.errors import ConfigurationError
from timeledger.sdk.outbox import SCHEMA_VERSION, NewEvent, Outbox
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
    outbox.add([event(1), event(2), event(4)])
    outbox.ack(outbox.claim(1, 10_000))  # day 0: 1 delivered; 2 waits (the platform refuses)
    waiting, refused = outbox.claim(10, 10_000)
    outbox.bury(refused, "HTTP 400")  # day 0: 4 is a dead letter
    outbox.unlease([waiting])

    clock.advance(29 * DAY)
    outbox.add([event(3)])
    outbox.ack([row for row in outbox.claim(10, 10_000) if row.event_id == event(3).event_id])
    assert outbox.add([event(1)]) == [False]  # 29 days on: still a duplicate

    clock.advance(2 * DAY)
    outbox.ack([])  # any acknowledgement does the housekeeping
    assert outbox.add([event(1)]) == [True]  # 31 days on: forgotten, so queued again
    assert outbox.add([event(2)]) == [False]  # still waiting in the outbox: kept at any age
    assert outbox.add([event(3)]) == [False]  # delivered 2 days ago: kept
    assert outbox.add([event(4)]) == [False]  # a dead letter: kept at any age
    outbox.close()


def test_a_held_row_waits_while_others_are_ready_then_goes_alone(tmp_path: Path) -> None:
    clock = FakeClock()
    box = Outbox(tmp_path / "outbox.sqlite3", clock)
    box.add([event(n) for n in range(1, 5)])
    first = box.claim(10, 10_000)
    held = box.hold(first[0], "HTTP 500", strikes=1, until=clock.now() + timedelta(seconds=10))
    assert (held.held, held.strikes, held.attempts) == (True, 1, 1)
    box.unlease(first[1:])
    assert [row.event_id[-1] for row in box.claim(10, 10_000)] == ["2", "3", "4"]
    assert box.claim(10, 10_000) == []  # the others are leased; the hold runs for 10 s
    assert box.next_hold_end() == clock.now() + timedelta(seconds=10)
    clock.advance(10)
    assert box.next_hold_end() is None
    [again] = box.claim(10, 10_000)
    assert (again.event_id, again.held, again.strikes) == (event(1).event_id, True, 1)
    box.close()


V0_SCHEMA = """
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    run_id TEXT, sensor TEXT NOT NULL, body BLOB NOT NULL, queued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, dead INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT, lease_until REAL);
CREATE INDEX events_ready ON events (dead, sensor, seq);
CREATE TABLE seen (event_id TEXT PRIMARY KEY, first_seen REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX seen_age ON seen (first_seen);
"""


def test_an_outbox_file_of_version_0_is_migrated(tmp_path: Path) -> None:
    """Files written before dead letters had their table keep every row, and their ids."""
    path = tmp_path / "outbox.sqlite3"
    clock = FakeClock()
    queued = clock.now().timestamp() - 60
    old = sqlite3.connect(path)
    old.executescript(V0_SCHEMA)
    rows = [(n, event(n).event_id, "heartbeat", "run", "https://a", b'{"id": %d}' % n, queued,
             attempts, error, dead) for n, attempts, error, dead in
            [(1, 0, None, 0), (2, 0, None, 0), (3, 2, "HTTP 503", 0), (4, 1, "HTTP 400: bad", 1),
             (5, 0, None, 0)]]
    old.executemany("INSERT INTO events (seq, event_id, kind, run_id, sensor, body, queued_at,"
                    " attempts, last_error, dead) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    old.executemany("INSERT INTO seen VALUES (?, ?)", [(row[1], queued) for row in rows])
    old.execute("DELETE FROM events WHERE seq IN (1, 5)")  # delivered: the sequence is at 5
    old.commit()
    old.close()

    box = Outbox(path, clock)
    assert [(r.seq, r.attempts, r.last_error, r.held) for r in box.pending()] == [
        (2, 0, None, False), (3, 2, "HTTP 503", False)]
    [letter] = box.dead()
    assert (letter.event_id, letter.reason, letter.last_error, letter.attempts) == (
        event(4).event_id, "rejected", "HTTP 400: bad", 1)
    assert letter.queued_at.timestamp() == queued and letter.dead_at == clock.now()
    assert box.state(event(4).event_id) == ("dead", "HTTP 400: bad")
    assert box.add([event(5), event(6)]) == [False, True]  # ids are still remembered
    assert [r.event_id for r in box.pending()] == [event(n).event_id for n in (2, 3, 6)]
    box.close()
    reopened = Outbox(path, clock)  # opening again changes nothing
    assert [r.seq for r in reopened.pending()] == [2, 3, 4] and len(reopened.dead()) == 1
    reopened.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = {row[1] for row in check.execute("PRAGMA table_info(events)")}
        assert "dead" not in columns and {"strikes", "held_until"} <= columns


def test_an_outbox_file_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with sqlite3.connect(path) as newer:
        newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ConfigurationError, match=f"schema version {SCHEMA_VERSION + 1}"):
        Outbox(path, FakeClock())


def _seen_rows(path: Path) -> list[tuple[str, float]]:
    with sqlite3.connect(path) as db:
        return [(event_id, first) for event_id, first in db.execute(
            "SELECT event_id, first_seen FROM seen ORDER BY event_id")]


def test_queueing_writes_only_the_event_and_every_way_out_remembers_its_id(
        tmp_path: Path) -> None:
    """A queued id is refused by its own row while it waits, and by a `seen` row (with when it
    was queued) once delivered, buried or dropped to keep the bound."""
    path = tmp_path / "outbox.sqlite3"
    clock = FakeClock()
    queued = clock.now().timestamp()
    box = Outbox(path, clock, max_events=3)
    assert box.add([event(n) for n in range(1, 4)]) == [True, True, True]
    assert _seen_rows(path) == []  # the queueing commit wrote the events and nothing else
    assert box.add([event(1), event(2)]) == [False, False]  # refused by the waiting rows
    clock.advance(60)
    delivered, refused, _ = box.claim(10, 10_000)
    box.ack([delivered])
    box.bury(refused, "HTTP 400")
    box.add([event(4), event(5), event(6)])  # over the bound of 3 by one: 3 is dropped
    assert [row.event_id for row in box.pending()] == [event(n).event_id for n in (4, 5, 6)]
    assert _seen_rows(path) == [(event(n).event_id, queued) for n in (1, 2, 3)]
    assert box.add([event(n) for n in range(1, 7)]) == [False] * 6
    assert [box.seen(event(n).event_id) for n in range(1, 8)] == [True] * 6 + [False]
    box.close()


def test_an_outbox_file_of_version_1_keeps_refusing_its_ids(tmp_path: Path) -> None:
    """Version 1 wrote a `seen` row for every id at queueing: those rows stay, harmless."""
    path = tmp_path / "outbox.sqlite3"
    clock = FakeClock()
    box = Outbox(path, clock)
    box.add([event(1), event(2)])
    box.close()
    with sqlite3.connect(path) as old:
        old.execute("PRAGMA user_version = 1")
        old.executemany("INSERT INTO seen VALUES (?, ?)",
                        [(event(n).event_id, clock.now().timestamp()) for n in (1, 2)])
    reopened = Outbox(path, clock)
    assert reopened.add([event(1), event(3)]) == [False, True]
    reopened.ack(reopened.claim(10, 10_000))  # ids already in `seen` are no conflict
    assert reopened.add([event(1), event(2), event(3)]) == [False, False, False]
    assert reopened.pending() == []
    reopened.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
