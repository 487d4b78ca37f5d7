"""The durable outbox: a SQLite file that holds every event until the platform acknowledges it.

Several threads and several processes may share one file. A sender *claims* rows under a lease
inside an immediate transaction, so two senders never send the same row at once; a lease held by a
process that died is released when the next process opens the file (or when the lease expires).
The `seen` table remembers every event id queued, so a re-queued id is refused even after its row
was delivered and deleted; delivered ids are forgotten after `seen_retention` seconds (a resend
after that reaches the platform, which stores every event id once anyway).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from timeledger.sdk.clock import Clock
from timeledger.sdk.errors import EventKind

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    run_id TEXT,
    sensor TEXT NOT NULL,
    body BLOB NOT NULL,
    queued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    dead INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until REAL
);
CREATE INDEX IF NOT EXISTS events_ready ON events (dead, sensor, seq);
CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY, first_seen REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_age ON seen (first_seen);
"""
DEFAULT_SEEN_RETENTION = 30 * 86400.0
# Forgetting old ids is housekeeping: done on acknowledgement, at most this often.
PRUNE_EVERY = 3600.0
MEMORY = ":memory:"


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be queued: its body is the JSON the platform will receive."""

    event_id: str
    kind: EventKind
    run_id: str | None
    sensor: str
    body: bytes

    @classmethod
    def of(cls, event: dict[str, Any], kind: EventKind, sensor: str) -> NewEvent:
        extensions = event.get("extensions")
        run_id = extensions.get("runId") if isinstance(extensions, dict) else None
        return cls(str(event["id"]), kind, run_id if isinstance(run_id, str) else None, sensor,
                   orjson.dumps(event))


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One queued (or dead) event as stored."""

    seq: int
    event_id: str
    kind: EventKind
    run_id: str | None
    sensor: str
    body: bytes
    attempts: int
    last_error: str | None

    @property
    def size(self) -> int:
        return len(self.body)

    def event(self) -> dict[str, Any]:
        """The event as a dict."""
        value: dict[str, Any] = orjson.loads(self.body)
        return value


_COLUMNS = "seq, event_id, kind, run_id, sensor, body, attempts, last_error"


def _row(values: tuple[Any, ...]) -> OutboxRow:
    return OutboxRow(int(values[0]), values[1], values[2], values[3], values[4], bytes(values[5]),
                     int(values[6]), values[7])


def _owner_alive(owner: str) -> bool:
    """A lease owner is `host:pid:token`; on this host, a pid that no longer exists is dead."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Outbox:
    """Queue, claim, acknowledge, release and bury events; `":memory:"` keeps them in memory."""

    def __init__(self, path: str | Path, clock: Clock, lease_seconds: float = 60.0,
                 seen_retention: float = DEFAULT_SEEN_RETENTION) -> None:
        self.path = str(path)
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.seen_retention = seen_retention
        self._pruned_at: float | None = None
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        if self.path != MEMORY:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=30.0)
        self._db.execute("PRAGMA busy_timeout = 30000")
        if self.path != MEMORY:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(SCHEMA)
        self.release_orphans()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locked) transaction, one thread at a time."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def add(self, events: Sequence[NewEvent]) -> list[bool]:
        """Queue events atomically; False for an id this outbox has seen before (not queued)."""
        now = self._now()
        added: list[bool] = []
        with self._transaction() as db:
            for event in events:
                fresh = db.execute(
                    "INSERT OR IGNORE INTO seen (event_id, first_seen) VALUES (?, ?)",
                    (event.event_id, now)).rowcount == 1
                if fresh:
                    db.execute(
                        "INSERT INTO events (event_id, kind, run_id, sensor, body, queued_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (event.event_id, event.kind, event.run_id, event.sensor, event.body, now))
                added.append(fresh)
        return added

    def claim(self, max_events: int, max_bytes: int) -> list[OutboxRow]:
        """Lease the oldest ready rows of one sensor, up to `max_events` and `max_bytes`."""
        now = self._now()
        ready = "dead = 0 AND (lease_owner IS NULL OR lease_until < ?)"
        with self._transaction() as db:
            first = db.execute(f"SELECT sensor FROM events WHERE {ready} ORDER BY seq LIMIT 1",
                               (now,)).fetchone()
            if first is None:
                return []
            rows = [_row(values) for values in db.execute(
                f"SELECT {_COLUMNS} FROM events WHERE {ready} AND sensor = ? ORDER BY seq LIMIT ?",
                (now, first[0], max_events))]
            batch: list[OutboxRow] = []
            size = 0
            for row in rows:
                if batch and size + row.size > max_bytes:
                    break
                batch.append(row)
                size += row.size
            db.executemany("UPDATE events SET lease_owner = ?, lease_until = ? WHERE seq = ?",
                           [(self.owner, now + self.lease_seconds, row.seq) for row in batch])
        return batch

    def ack(self, rows: Sequence[OutboxRow]) -> None:
        """The platform accepted these: forget the rows (their ids stay in `seen` a while)."""
        now = self._now()
        prune = self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY
        with self._transaction() as db:
            db.executemany("DELETE FROM events WHERE seq = ?", [(row.seq,) for row in rows])
            if prune:  # ids of rows still in the outbox are kept whatever their age
                db.execute("DELETE FROM seen WHERE first_seen < ? AND NOT EXISTS"
                           " (SELECT 1 FROM events WHERE events.event_id = seen.event_id)",
                           (now - self.seen_retention,))
                self._pruned_at = now

    def release(self, rows: Sequence[OutboxRow], error: str) -> list[OutboxRow]:
        """A transient failure: count the attempt, drop the lease; returns the updated rows."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE events SET attempts = attempts + 1, last_error = ?, lease_owner = NULL,"
                " lease_until = NULL WHERE seq = ?", [(error, row.seq) for row in rows])
        return [OutboxRow(row.seq, row.event_id, row.kind, row.run_id, row.sensor, row.body,
                          row.attempts + 1, error) for row in rows]

    def bury(self, row: OutboxRow, error: str) -> None:
        """A rejection: keep the row as a dead letter, never to be sent again."""
        with self._transaction() as db:
            db.execute("UPDATE events SET dead = 1, attempts = attempts + 1, last_error = ?,"
                       " lease_owner = NULL, lease_until = NULL WHERE seq = ?", (error, row.seq))

    def release_orphans(self) -> int:
        """Drop leases held by processes on this host that no longer exist."""
        with self._lock:
            owners = [owner for (owner,) in self._db.execute(
                "SELECT DISTINCT lease_owner FROM events WHERE lease_owner IS NOT NULL")]
        dead = [owner for owner in owners if owner != self.owner and not _owner_alive(owner)]
        if not dead:
            return 0
        with self._transaction() as db:
            return sum(db.execute("UPDATE events SET lease_owner = NULL, lease_until = NULL"
                                  " WHERE lease_owner = ?", (owner,)).rowcount for owner in dead)

    def _select(self, where: str, params: tuple[Any, ...] = ()) -> list[OutboxRow]:
        with self._lock:
            return [_row(values) for values in self._db.execute(
                f"SELECT {_COLUMNS} FROM events WHERE {where} ORDER BY seq", params)]

    def pending(self) -> list[OutboxRow]:
        """Rows not yet acknowledged and not dead."""
        return self._select("dead = 0")

    def dead(self) -> list[OutboxRow]:
        """Rows the platform rejected."""
        return self._select("dead = 1")

    def count_pending(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM events WHERE dead = 0").fetchone()[0])

    def contains(self, event_id: str) -> bool:
        """Whether this event is still queued (not delivered, not dead)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM events WHERE event_id = ? AND dead = 0",
                                    (event_id,)).fetchone() is not None

    def state(self, event_id: str) -> tuple[str, str | None] | None:
        """("pending" | "dead" | "delivered", last error) for an id this outbox has seen."""
        with self._lock:
            row = self._db.execute("SELECT dead, last_error FROM events WHERE event_id = ?",
                                   (event_id,)).fetchone()
            if row is not None:
                return ("dead" if row[0] else "pending"), row[1]
            known = self._db.execute("SELECT 1 FROM seen WHERE event_id = ?",
                                     (event_id,)).fetchone()
        return ("delivered", None) if known else None

    def seen(self, event_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM seen WHERE event_id = ?",
                                    (event_id,)).fetchone() is not None

    def close(self) -> None:
        """Give back this outbox's leases (nothing is in flight any more) and close the file."""
        with self._transaction() as db:
            db.execute("UPDATE events SET lease_owner = NULL, lease_until = NULL"
                       " WHERE lease_owner = ?", (self.owner,))
        with self._lock:
            self._db.close()
