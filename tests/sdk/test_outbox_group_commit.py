"""The outbox's group commit: writes waiting together share one transaction, and nobody hears
"written" before its events are committed (another connection sees them, a crash keeps them)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.sdk.conftest import CONFIG
from timeledger.sdk import Client, Receipt
from timeledger.sdk.errors import OutboxBusyError
from timeledger.sdk.outbox import NewEvent, Outbox
from timeledger.sdk.outbox_writer import OutboxWriter
from timeledger.testing import FakeClock

THREADS = 12


def event(n: int) -> NewEvent:
    return NewEvent(f"urn:uuid:00000000-0000-4000-8000-{n:012d}", "heartbeat", "run",
                    "https://a.example.com", b'{"id": %d}' % n)


def stored(path: Path, event_ids: Sequence[str]) -> set[str]:
    """The ids among `event_ids` another connection sees committed in the file."""
    with sqlite3.connect(path) as other:
        return {found for (found,) in other.execute(
            f"SELECT event_id FROM events WHERE event_id IN ({', '.join('?' * len(event_ids))})",
            list(event_ids))}


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Another process's view: a connection holding the file's write lock."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("COMMIT")
        holder.close()


class Commits:
    """Counts the COMMITs the outbox's own connection runs (SQLite's statement trace)."""

    def __init__(self, outbox: Outbox) -> None:
        self.count = 0
        self.began = threading.Event()
        outbox._db.set_trace_callback(self._traced)

    def _traced(self, statement: str) -> None:
        if statement == "COMMIT":
            self.count += 1
        elif statement == "BEGIN IMMEDIATE":
            self.began.set()


def test_concurrent_callers_share_a_transaction_and_return_once_committed(
        tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, FakeClock())
    commits = Commits(outbox)
    seen_at_return: dict[int, set[str]] = {}
    results: dict[int, list[bool]] = {}

    def caller(n: int) -> None:
        mine = [event(2 * n), event(2 * n + 1)]
        results[n] = outbox.add(mine)
        seen_at_return[n] = stored(path, [e.event_id for e in mine])

    with write_lock(path):  # the first caller leads and waits for the lock; the others queue
        threads = [threading.Thread(target=caller, args=(n,)) for n in range(THREADS)]
        threads[0].start()
        assert commits.began.wait(10)
        for thread in threads[1:]:
            thread.start()
        assert outbox._writes.wait_for_waiting(THREADS - 1, 10)
    for thread in threads:
        thread.join(30)

    assert results == {n: [True, True] for n in range(THREADS)}
    assert seen_at_return == {n: {event(2 * n).event_id, event(2 * n + 1).event_id}
                              for n in range(THREADS)}
    assert commits.count == 2  # the leader's own, then one for the eleven that waited
    assert outbox.count_pending() == 2 * THREADS
    outbox.close()


def test_a_repeated_id_in_one_transaction_is_queued_once(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, FakeClock())
    commits = Commits(outbox)
    with write_lock(path):
        first = outbox.add_later([event(1), event(2)])
        assert commits.began.wait(10)  # the writer thread holds the first write, waiting
        again = outbox.add_later([event(2), event(3)])
        twice = outbox.add_later([event(1)])
    assert (first.result(), again.result(), twice.result()) == (
        [True, True], [False, True], [False])
    assert [row.event_id for row in outbox.pending()] == [event(n).event_id for n in (1, 2, 3)]
    assert commits.count == 2
    outbox.close()


def test_add_later_resolves_only_once_committed_and_a_read_sees_it(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, FakeClock())
    commits = Commits(outbox)
    with write_lock(path):
        written = outbox.add_later([event(7)])
        assert commits.began.wait(10)  # the writer thread is in its transaction, blocked
        assert not written.done()
        assert stored(path, [event(7).event_id]) == set()
    assert written.result(timeout=30) == [True]
    assert stored(path, [event(7).event_id]) == {event(7).event_id}
    later = outbox.add_later([event(8)])
    assert [row.event_id for row in outbox.pending()][-1] == event(8).event_id
    assert later.done() and later.result() == [True]
    outbox.close()


def test_a_failing_transaction_fails_each_write_in_it_and_stores_none(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, FakeClock())
    commits = Commits(outbox)
    with sqlite3.connect(path) as other:  # a file that refuses one event id
        other.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.event_id ="
                      f" '{event(2).event_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with write_lock(path):
        one = outbox.add_later([event(1)])
        assert commits.began.wait(10)
        two = outbox.add_later([event(2)])
        three = outbox.add_later([event(3)])
    with pytest.raises(sqlite3.IntegrityError):
        two.result(timeout=30)
    with pytest.raises(sqlite3.IntegrityError):
        three.result(timeout=30)
    assert one.result() == [True]
    assert [row.event_id for row in outbox.pending()] == [event(1).event_id]
    assert outbox.add([event(3)]) == [True]  # not seen: its transaction was rolled back
    with pytest.raises(sqlite3.IntegrityError, match="refused"):  # a caller writing itself
        outbox.add([event(2)])
    assert [row.event_id for row in outbox.pending()] == [event(1).event_id, event(3).event_id]
    outbox.close()


def test_past_the_bound_of_waiting_events_nothing_is_queued() -> None:
    entered, release = threading.Event(), threading.Event()
    written: list[list[int]] = []

    def write(batches: Sequence[Sequence[int]]) -> list[list[bool]]:
        entered.set()
        release.wait(30)
        written.extend(list(batch) for batch in batches)
        return [[True] * len(batch) for batch in batches]

    writer: OutboxWriter[int] = OutboxWriter(write, max_waiting_events=5)
    first = writer.add_later([0])  # taken by the writer thread, which waits in write()
    assert entered.wait(10)
    waiting = [writer.add_later([1, 2]), writer.add_later([3, 4, 5])]
    with pytest.raises(OutboxBusyError, match="5 events already wait"):
        writer.add_later([6])
    release.set()
    assert [future.result(timeout=30) for future in [first, *waiting]] == [
        [True], [True, True], [True, True, True]]
    assert sorted(n for batch in written for n in batch) == [0, 1, 2, 3, 4, 5]
    writer.close()


def test_end_returns_once_everything_of_the_activity_is_durable_even_if_killed_then(
        tmp_path: Path) -> None:
    """Heartbeats go to the writer thread; a process killed the moment `end()` returns still
    left every window of the activity in the file."""
    path = tmp_path / "outbox.sqlite3"
    script = textwrap.dedent(f"""
        import os, signal
        from timeledger import Client
        from timeledger.testing import FakeClock
        clock = FakeClock()
        client = Client("http://127.0.0.1:9", config={CONFIG!r}, clock=clock,
                        outbox={str(path)!r}, environ={{}})
        activity = client.activity.start(id="a", name="A", course={{"subject": "Math",
                                         "grade": 3}}, user={{"email": "ada@example.edu"}})
        clock.advance(15 * 40 + 5)
        receipt = activity.end({{"xp_earned": 1}}, wait=False)
        print(len(receipt.event_ids), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.strip() == "2"  # the last window and the completion
    with sqlite3.connect(path) as after:
        kinds = dict(after.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall())
    assert kinds == {"heartbeat": 41, "completion": 1}


def test_end_returns_only_after_its_events_are_committed(tmp_path: Path) -> None:
    path, clock = tmp_path / "outbox.sqlite3", FakeClock()
    client = Client("http://127.0.0.1:9", config=CONFIG, clock=clock, outbox=str(path),
                    environ={})
    activity = client.activity.start(id="a", name="A", course={"subject": "Math", "grade": 3},
                                     user={"email": "ada@example.edu"})
    clock.advance(15 * 4 + 5)
    assert len(client.pending()) == 4  # the four windows so far are written
    commits = Commits(client._outbox)
    receipts: list[Receipt] = []
    with write_lock(path):
        ending = threading.Thread(
            target=lambda: receipts.append(activity.end({"xp_earned": 1}, wait=False)))
        ending.start()
        assert commits.began.wait(10)  # the last window and the completion wait for the lock
        assert receipts == []
    ending.join(30)
    [receipt] = receipts
    assert stored(path, list(receipt.event_ids)) == set(receipt.event_ids)
    client.close(timeout=0)


def test_add_soon_calls_back_only_once_committed(tmp_path: Path) -> None:
    """A heartbeat timer's write has no future: its callback is told once the commit is made."""
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, FakeClock())
    commits = Commits(outbox)
    told: list[list[bool] | Exception] = []
    called = threading.Event()

    def done(outcome: list[bool] | Exception) -> None:
        told.append(outcome)
        seen_when_told.update(stored(path, [event(7).event_id]))
        called.set()

    seen_when_told: set[str] = set()
    with write_lock(path):
        outbox.add_soon([event(7)], done)
        assert commits.began.wait(10)  # the writer thread is in its transaction, blocked
        assert not called.is_set()
    assert called.wait(30)
    assert told == [[True]] and seen_when_told == {event(7).event_id}
    outbox.close()


def test_a_heartbeat_whose_write_fails_goes_to_on_error_and_tracking_goes_on(
        tmp_path: Path) -> None:
    path, clock = tmp_path / "outbox.sqlite3", FakeClock()
    errors: list[tuple[Exception, str, bool]] = []
    client = Client("http://127.0.0.1:9", config=CONFIG, clock=clock, outbox=str(path),
                    environ={})
    with sqlite3.connect(path) as other:  # the file refuses heartbeats while `refusing` has a row
        other.execute("CREATE TABLE refusing (why TEXT)")
        other.execute("INSERT INTO refusing VALUES ('full disk')")
        other.execute("CREATE TRIGGER refuse BEFORE INSERT ON events WHEN EXISTS"
                      " (SELECT 1 FROM refusing) BEGIN SELECT RAISE(ABORT, 'refused'); END")
    activity = client.activity.start(id="a", name="A", course={"subject": "Math", "grade": 3},
                                     user={"email": "ada@example.edu"},
                                     on_error=lambda error, context: errors.append(
                                         (error, context.kind, context.dead)))
    clock.advance(15)
    assert client.pending() == []  # the read waits for the failed write
    assert [(type(error), kind, dead) for error, kind, dead in errors] == [
        (sqlite3.IntegrityError, "heartbeat", False)]
    with sqlite3.connect(path) as other:
        other.execute("DELETE FROM refusing")
    clock.advance(15)
    assert [row.kind for row in client.pending()] == ["heartbeat"]
    assert len(errors) == 1
    activity.end(wait=False)
    client.close(timeout=0)
