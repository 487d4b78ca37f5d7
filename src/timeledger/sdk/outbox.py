"""The durable outbox: a SQLite file that holds every event until the platform acknowledges it.

Several threads and several processes may share one file. A sender *claims* rows under a lease
inside an immediate transaction, so two senders never send the same row at once; a lease held by a
process that died is released when the next process opens the file (or when the lease expires).
Every event id queued is remembered, so a re-queued id is refused even after its row was delivered
and deleted: while its row waits, by the row itself (`events.event_id` is unique); once it leaves
(delivered, buried or dropped), by a row in `seen` written in the same transaction that removes it.
So a queueing transaction writes the `events` row and its indexes and nothing more (a `seen` row
written at queueing, as schema version 1 did, cost a third of the commit; `bench/adapter.py`).
Delivered ids are forgotten `seen_retention` seconds after they were queued (a resend after that
reaches the platform, which stores every event id once anyway); ids of dead letters are kept.

`events.seq` orders the queue: SQLite gives a new row the largest seq plus one, so the queue is
first in, first out, and a seq may be used again once the row holding the largest one has left.
So every statement that acts on a row after its claim names it by seq *and* event id (`_THIS_ROW`):
a late ack, release or burial from a sender whose lease ran out can never touch a newer row that
took the same seq. (AUTOINCREMENT would rule reuse out at the cost of a `sqlite_sequence` page in
every queueing commit: schema version 3 dropped it.)

The file holds at most `max_events` queued events: past it the oldest heartbeats go first, then
other non-completion events; completions are never dropped, and whoever built the outbox is told
what went (`on_drop`). Queued seqs are distinct integers, so `max(seq) - min(seq) + 1` (two reads
of the rowid B-tree's ends) is never below their count; only when that bound, plus the rows being
inserted, passes `max_events` does the queueing transaction need the exact count. It counts the
rows (tens of milliseconds at a million) unless the count its connection's last queueing commit
left still holds: no other transaction of this outbox and no other connection (`PRAGMA
data_version`) wrote since. (Version 2 kept the count in a row updated by triggers: one more page
in every queueing commit.)

Inserts go through `OutboxWriter` (group commit): callers writing at the same time share one
transaction, heartbeats are handed to its writer thread (`add_soon`), and every read of queued
rows first writes what waits, so it sees every insert handed over before it. (Reads an insert
cannot change, holds and dead letters, do not wait: the sender asks for the next hold's end while
holding its own lock, which a write's callback takes to wake it.)

An event suspected of making the platform fail is *held*: it is sent alone, only when nothing
else is ready, and not before `held_until`. An event the sender gives up on moves to the
`dead_letters` table with its last error and the time; nothing there is ever sent again.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

import orjson

from timeledger.sdk.clock import Clock
from timeledger.sdk.errors import ConfigurationError, EventKind
from timeledger.sdk.outbox_writer import Done, OutboxWriter

SCHEMA_VERSION = 3
"""3: `events.seq` without AUTOINCREMENT and no `outbox_size` count (each wrote a page in every
queueing commit); files of versions 0 to 2 are rebuilt in this form when opened (one transaction,
every queued row, dead letter and remembered id kept). 2: `seen` holds the ids of rows that left
`events` (1 wrote one for every id at queueing; those extra `seen` rows are harmless)."""
EVENTS_TABLE = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    run_id TEXT,
    sensor TEXT NOT NULL,
    body BLOB NOT NULL,
    queued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    strikes INTEGER NOT NULL DEFAULT 0,
    held_until REAL,
    lease_owner TEXT,
    lease_until REAL
)"""
_EVENTS_COLUMNS = ("seq", "event_id", "kind", "run_id", "sensor", "body", "queued_at", "attempts",
                   "last_error", "strikes", "held_until", "lease_owner", "lease_until")
SCHEMA = (
    EVENTS_TABLE,
    "CREATE INDEX IF NOT EXISTS events_ready ON events (held_until, sensor, seq)",
    """CREATE TABLE IF NOT EXISTS dead_letters (
        id INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        run_id TEXT,
        sensor TEXT NOT NULL,
        body BLOB NOT NULL,
        queued_at REAL NOT NULL,
        attempts INTEGER NOT NULL,
        reason TEXT NOT NULL,
        status INTEGER,
        last_error TEXT NOT NULL,
        dead_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS dead_letters_event ON dead_letters (event_id)",
    "CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY, first_seen REAL NOT NULL)"
    " WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS seen_age ON seen (first_seen)",
    # For a process of version 1 or 2 still running when another upgraded the file (a rolling
    # deploy): its queueing and its size read `outbox_size`, which a view answers (counting, in
    # that process only), so it keeps queueing instead of failing until it is replaced.
    "CREATE VIEW IF NOT EXISTS outbox_size (id, events) AS SELECT 1, count(*) FROM events",
)
# What schema versions 1 and 2 had and version 3 does not (the count of queued events, a table
# kept by triggers; version 3 answers its name with a view).
_OLD_COUNT = ("DROP TRIGGER IF EXISTS events_counted_in",
              "DROP TRIGGER IF EXISTS events_counted_out")
# One row, named so that a newer row which took its seq is never it (see the module docstring).
_THIS_ROW = "seq = ? AND event_id = ?"
DEFAULT_SEEN_RETENTION = 30 * 86400.0
# Forgetting old ids is housekeeping: done on acknowledgement, at most this often.
PRUNE_EVERY = 3600.0
MEMORY = ":memory:"
DEFAULT_MAX_OUTBOX_EVENTS = 1_000_000
_IDS_PER_QUERY = 450  # each id is bound twice (events, seen): under SQLite's smallest limit (999)
# Rows per INSERT statement (6 parameters each: under 999). One statement for many rows, where
# executemany would step once per row, each step handing the GIL to the app's threads and back.
_ROWS_PER_INSERT = 150

_INSERT_COLUMNS = 6


@lru_cache(maxsize=64)
def _known_ids_sql(count: int) -> str:
    """Which of `count` ids (bound twice) are queued or remembered, and (a row without an id)
    the span of queued seqs, never below their count (NULL when none is queued): the queueing
    transaction holds the write lock from before this read, so that span plus its own inserts
    bounds the count after them."""
    marks = ", ".join("?" * count)
    return (f"SELECT event_id, NULL FROM events WHERE event_id IN ({marks}) UNION ALL"
            f" SELECT event_id, NULL FROM seen WHERE event_id IN ({marks}) UNION ALL"
            " SELECT NULL, (SELECT max(seq) FROM events) - (SELECT min(seq) FROM events) + 1")


@lru_cache(maxsize=64)
def _insert_sql(count: int) -> str:
    return ("INSERT INTO events (event_id, kind, run_id, sensor, body, queued_at) VALUES"
            + ", ".join(("(?, ?, ?, ?, ?, ?)",) * count))


DeadReason = Literal["rejected", "failed_alone", "expired"]
"""Why an event is a dead letter: the platform refused it (4xx); it made the platform fail each
time it was sent alone; or it was older than `max_event_age` when a send failed again."""


class NewEvent(NamedTuple):
    """An event about to be queued: its body is the JSON the platform will receive. (A named
    tuple: one is made per heartbeat, a third the cost of a frozen dataclass; its fields are the
    `events` columns the insert writes, in their order.)"""

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
class Dropped:
    """Events dropped to keep the outbox within `max_events`: their ids (oldest first) by kind."""

    event_ids: tuple[str, ...]
    kinds: dict[str, int]

    @property
    def count(self) -> int:
        return len(self.event_ids)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One queued event as stored; `strikes` counts the times it failed alone, `held` whether it
    is suspected of making the platform fail (then it is only sent alone)."""

    seq: int
    event_id: str
    kind: EventKind
    run_id: str | None
    sensor: str
    body: bytes
    attempts: int
    last_error: str | None
    queued_at: float = 0.0
    strikes: int = 0
    held: bool = False

    @property
    def size(self) -> int:
        return len(self.body)

    def event(self) -> dict[str, Any]:
        """The event as a dict."""
        value: dict[str, Any] = orjson.loads(self.body)
        return value


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event set aside for good: why (`reason`), the last error and HTTP status, and when."""

    event_id: str
    kind: EventKind
    run_id: str | None
    sensor: str
    body: bytes
    attempts: int
    reason: DeadReason
    status: int | None
    last_error: str
    queued_at: datetime
    dead_at: datetime

    def event(self) -> dict[str, Any]:
        """The event as a dict."""
        value: dict[str, Any] = orjson.loads(self.body)
        return value


_COLUMNS = ("seq, event_id, kind, run_id, sensor, body, attempts, last_error, queued_at, strikes,"
            " held_until IS NOT NULL")
_DEAD_COLUMNS = ("event_id, kind, run_id, sensor, body, attempts, reason, status, last_error,"
                 " queued_at, dead_at")


def _row(values: tuple[Any, ...]) -> OutboxRow:
    return OutboxRow(int(values[0]), values[1], values[2], values[3], values[4], bytes(values[5]),
                     int(values[6]), values[7], float(values[8]), int(values[9]), bool(values[10]))


def _dead(values: tuple[Any, ...]) -> DeadLetter:
    return DeadLetter(values[0], values[1], values[2], values[3], bytes(values[4]), int(values[5]),
                      values[6], values[7], values[8], datetime.fromtimestamp(values[9], UTC),
                      datetime.fromtimestamp(values[10], UTC))


def _remember(db: sqlite3.Connection | sqlite3.Cursor, ids: Sequence[tuple[str, float]]) -> None:
    """Keep refusing these ids (with when each was queued) once their rows leave `events`."""
    db.executemany("INSERT OR IGNORE INTO seen (event_id, first_seen) VALUES (?, ?)", ids)


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


def _upgrade(db: sqlite3.Connection, columns: set[str], now: float) -> None:
    """Rebuild `events` of a file written by schema version 0, 1 or 2 in version 3's form, with
    every row and its seq (the old table's `sqlite_sequence` row goes with it), and drop the
    count of versions 1 and 2. Version 0 kept dead letters as `events` rows with `dead = 1`: they
    move to their table."""
    for statement in _OLD_COUNT:
        db.execute(statement)
    for (kind,) in db.execute("SELECT type FROM sqlite_master WHERE name = 'outbox_size'"
                              ).fetchall():
        db.execute(f"DROP {'VIEW' if kind == 'view' else 'TABLE'} outbox_size")
    for statement in SCHEMA[2:4]:
        db.execute(statement)
    keep = ""
    if "dead" in columns:
        db.execute(
            "INSERT INTO dead_letters (event_id, kind, run_id, sensor, body, queued_at, attempts,"
            " reason, status, last_error, dead_at) SELECT event_id, kind, run_id, sensor, body,"
            " queued_at, attempts, 'rejected', NULL, coalesce(last_error, 'rejected'), ?"
            " FROM events WHERE dead = 1 ORDER BY seq", (now,))
        keep = " WHERE dead = 0"
    db.execute("ALTER TABLE events RENAME TO events_old")
    db.execute("DROP INDEX IF EXISTS events_ready")
    db.execute(EVENTS_TABLE)
    copied = ", ".join(column for column in _EVENTS_COLUMNS if column in columns)
    db.execute(f"INSERT INTO events ({copied}) SELECT {copied} FROM events_old{keep}")
    db.execute("DROP TABLE events_old")


class Outbox:
    """Queue, claim, acknowledge, release, hold and bury events; `":memory:"` keeps them in
    memory."""

    def __init__(self, path: str | Path, clock: Clock, lease_seconds: float = 60.0,
                 seen_retention: float = DEFAULT_SEEN_RETENTION, *,
                 max_events: int = DEFAULT_MAX_OUTBOX_EVENTS,
                 on_drop: Callable[[Dropped], None] | None = None, open_now: bool = True) -> None:
        """`open_now=False` leaves the file closed until its first use (on the thread that uses
        it: the async client opens it off its event loop)."""
        self.path = str(path)
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.seen_retention = seen_retention
        self.max_events = max_events
        self.on_drop = on_drop
        self._pruned_at: float | None = None
        # (events queued, `PRAGMA data_version`) as this connection's last queueing commit left
        # them; None once it may be wrong (`_count`).
        self._counted: tuple[int, int] | None = None
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._cursor: sqlite3.Cursor | None = None  # the queueing transaction's, kept open
        self._writes: OutboxWriter[NewEvent] = OutboxWriter(self._write_batches)
        if open_now:
            self.open()

    def open(self) -> None:
        """Open the file (once): create or migrate the tables, release orphaned leases."""
        with self._lock:
            if self._connection is not None:
                return
            if self.path != MEMORY:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                 timeout=30.0)
            try:
                db.execute("PRAGMA busy_timeout = 30000")
                if self.path != MEMORY:
                    db.execute("PRAGMA journal_mode = WAL")
                    db.execute("PRAGMA synchronous = NORMAL")
                self._connection = db
                self._counted = None  # a count of another connection
                self._cursor = db.cursor()
                self._open_schema(db)
            except BaseException:
                self._connection = self._cursor = None
                db.close()
                raise
        self.release_orphans()

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection; callers hold `_lock`."""
        if self._connection is None:
            raise RuntimeError("the outbox is not open")
        return self._connection

    @property
    def _writing(self) -> sqlite3.Cursor:
        """The queueing transaction's cursor (`conn.execute` would make one per statement);
        callers hold `_lock`."""
        if self._cursor is None:
            raise RuntimeError("the outbox is not open")
        return self._cursor

    def _open_schema(self, db: sqlite3.Connection) -> None:
        """Create the tables, or bring a file written by an older version up to date."""
        db.execute("BEGIN IMMEDIATE")
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"The outbox {self.path} was written by a newer timeledger (schema version"
                    f" {version}; this one reads up to {SCHEMA_VERSION}): upgrade timeledger or"
                    " use another outbox")
            columns = {row[1] for row in db.execute("PRAGMA table_info(events)")}
            if version < SCHEMA_VERSION and columns:
                _upgrade(db, columns, self._now())
            for statement in SCHEMA:
                db.execute(statement)
            if version != SCHEMA_VERSION:
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _ensure_open(self) -> None:
        if self._connection is None:
            self.open()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locked) transaction, one thread at a time."""
        self._ensure_open()
        with self._lock:
            self._counted = None  # the transaction may remove rows
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
        """Queue events atomically and return once they are committed; False for an id this
        outbox has seen before (not queued). Concurrent callers share one transaction.

        Past `max_events` the oldest heartbeats (then other events, never completions) are dropped
        in the same transaction, and `on_drop` is told after it.
        """
        return self._writes.add(events)

    def add_later(self, events: Sequence[NewEvent]) -> Future[list[bool]]:
        """As `add`, without waiting: the future resolves once the events are committed (by the
        outbox's writer thread, or by a read or `add` that comes first)."""
        return self._writes.add_later(events)

    def add_soon(self, events: Sequence[NewEvent], done: Done) -> None:
        """As `add_later` without a future: `done(fresh flags)` or `done(error)` is called on the
        thread that commits them (a heartbeat timer's write)."""
        self._writes.add_soon(events, done)

    def _write_batches(self, batches: Sequence[Sequence[NewEvent]]) -> list[list[bool]]:
        """One transaction for several callers' events (in order: a repeated id is not fresh).
        (It runs for every commit, so it spells its transaction out instead of `_transaction`.)"""
        now = self._now()
        dropped: Dropped | None = None
        self._ensure_open()
        with self._lock:
            db = self._writing
            db.execute("BEGIN IMMEDIATE")
            counted, self._counted = self._counted, None
            try:
                added, rows, bound = self._insert(db, batches, now)
                if rows and bound > self.max_events:
                    queued, version = self._count(db, counted, rows)
                    if queued > self.max_events:
                        dropped = self._drop_excess(db, queued - self.max_events)
                        queued -= dropped.count if dropped is not None else 0
                    counted = queued, version
                elif rows:
                    counted = None
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            self._counted = counted
        if dropped is not None and self.on_drop is not None:
            self.on_drop(dropped)
        return added

    @staticmethod
    def _insert(db: sqlite3.Cursor, batches: Sequence[Sequence[NewEvent]],
                now: float) -> tuple[list[list[bool]], int, int]:
        """Insert the events whose ids were never queued; (fresh flags per batch, rows added, a
        bound of the events queued with them: never below their count)."""
        ids = [event.event_id for events in batches for event in events]
        known: set[str] = set()
        span = 0
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start:start + _IDS_PER_QUERY]
            for found, seqs in db.execute(_known_ids_sql(len(chunk)), chunk + chunk):
                if found is None:
                    span = int(seqs or 0)
                else:
                    known.add(found)
        added: list[list[bool]] = []
        rows: list[Any] = []
        for events in batches:
            fresh = []
            for event in events:
                new = event.event_id not in known
                if new:
                    known.add(event.event_id)
                    rows += event
                    rows.append(now)
                fresh.append(new)
            added.append(fresh)
        per_statement = _ROWS_PER_INSERT * _INSERT_COLUMNS
        for start in range(0, len(rows), per_statement):
            part = rows[start:start + per_statement]
            db.execute(_insert_sql(len(part) // _INSERT_COLUMNS), part)
        inserted = len(rows) // _INSERT_COLUMNS
        return added, inserted, span + inserted

    @staticmethod
    def _count(db: sqlite3.Cursor, counted: tuple[int, int] | None,
               inserted: int) -> tuple[int, int]:
        """(Events queued now, `PRAGMA data_version`): the count this connection's last queueing
        commit left plus `inserted` when no other connection has committed since (and no other
        transaction of this one ran: `counted` is None then), else counted row by row (tens of
        milliseconds at a million)."""
        version = int(db.execute("PRAGMA data_version").fetchone()[0])
        if counted is not None and counted[1] == version:
            return counted[0] + inserted, version
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0]), version

    @staticmethod
    def _drop_excess(db: sqlite3.Cursor, excess: int) -> Dropped | None:
        victims: list[tuple[int, str, str, float]] = []
        for kind in ("heartbeat", "event"):
            if len(victims) < excess:
                victims += db.execute("SELECT seq, event_id, kind, queued_at FROM events"
                                      " WHERE kind = ? ORDER BY seq LIMIT ?",
                                      (kind, excess - len(victims)))
        if not victims:
            return None  # completions only: kept past the bound
        db.executemany(f"DELETE FROM events WHERE {_THIS_ROW}",
                       [(seq, event_id) for seq, event_id, _, _ in victims])
        _remember(db, [(event_id, queued) for _, event_id, _, queued in victims])
        victims.sort()
        return Dropped(tuple(event_id for _, event_id, _, _ in victims),
                       dict(Counter(kind for _, _, kind, _ in victims)))

    def claim(self, max_events: int, max_bytes: int) -> list[OutboxRow]:
        """Lease the oldest ready rows of one sensor, up to `max_events` and `max_bytes`.

        Held rows wait while any other row is ready; then the oldest one whose hold is over goes,
        alone.
        """
        self._writes.drain()
        now = self._now()
        free = "(lease_owner IS NULL OR lease_until < ?)"
        with self._transaction() as db:
            first = db.execute(f"SELECT sensor FROM events WHERE held_until IS NULL AND {free}"
                               " ORDER BY seq LIMIT 1", (now,)).fetchone()
            if first is None:
                rows = [_row(values) for values in db.execute(
                    f"SELECT {_COLUMNS} FROM events WHERE held_until <= ? AND {free}"
                    " ORDER BY seq LIMIT 1", (now, now))]
            else:
                rows = [_row(values) for values in db.execute(
                    f"SELECT {_COLUMNS} FROM events WHERE held_until IS NULL AND {free}"
                    " AND sensor = ? ORDER BY seq LIMIT ?", (now, first[0], max_events))]
            batch: list[OutboxRow] = []
            size = 0
            for row in rows:
                if batch and size + row.size > max_bytes:
                    break
                batch.append(row)
                size += row.size
            db.executemany(f"UPDATE events SET lease_owner = ?, lease_until = ? WHERE {_THIS_ROW}",
                           [(self.owner, now + self.lease_seconds, row.seq, row.event_id)
                            for row in batch])
        return batch

    def next_hold_end(self) -> datetime | None:
        """The earliest end of a hold still running (None when no hold runs)."""
        self._ensure_open()
        with self._lock:
            until = self._db.execute("SELECT min(held_until) FROM events WHERE held_until > ?",
                                     (self._now(),)).fetchone()[0]
        return None if until is None else datetime.fromtimestamp(until, UTC)

    def ack(self, rows: Sequence[OutboxRow]) -> None:
        """The platform accepted these: forget the rows (their ids stay in `seen` a while)."""
        now = self._now()
        prune = self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY
        with self._transaction() as db:
            db.executemany(f"DELETE FROM events WHERE {_THIS_ROW}",
                           [(row.seq, row.event_id) for row in rows])
            _remember(db, [(row.event_id, row.queued_at) for row in rows])
            if prune:  # ids of rows still in the outbox (dead letters too) are kept
                db.execute("DELETE FROM seen WHERE first_seen < ? AND NOT EXISTS"
                           " (SELECT 1 FROM events WHERE events.event_id = seen.event_id)"
                           " AND NOT EXISTS (SELECT 1 FROM dead_letters"
                           " WHERE dead_letters.event_id = seen.event_id)",
                           (now - self.seen_retention,))
                self._pruned_at = now

    def unlease(self, rows: Sequence[OutboxRow]) -> None:
        """Give rows back untouched (they were claimed but not sent)."""
        with self._transaction() as db:
            db.executemany("UPDATE events SET lease_owner = NULL, lease_until = NULL"
                           f" WHERE {_THIS_ROW}", [(row.seq, row.event_id) for row in rows])

    def release(self, rows: Sequence[OutboxRow], error: str) -> list[OutboxRow]:
        """A failed attempt: count it, drop the lease; returns the updated rows."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE events SET attempts = attempts + 1, last_error = ?, lease_owner = NULL,"
                f" lease_until = NULL WHERE {_THIS_ROW}",
                [(error, row.seq, row.event_id) for row in rows])
        return [OutboxRow(row.seq, row.event_id, row.kind, row.run_id, row.sensor, row.body,
                          row.attempts + 1, error, row.queued_at, row.strikes, row.held)
                for row in rows]

    def hold(self, row: OutboxRow, error: str, strikes: int, until: datetime) -> OutboxRow:
        """A failure alone: count the attempt, keep `strikes`, send it again alone after `until`."""
        with self._transaction() as db:
            db.execute("UPDATE events SET attempts = attempts + 1, last_error = ?, strikes = ?,"
                       f" held_until = ?, lease_owner = NULL, lease_until = NULL WHERE {_THIS_ROW}",
                       (error, strikes, until.timestamp(), row.seq, row.event_id))
        return OutboxRow(row.seq, row.event_id, row.kind, row.run_id, row.sensor, row.body,
                         row.attempts + 1, error, row.queued_at, strikes, True)

    def bury(self, row: OutboxRow, error: str, reason: DeadReason = "rejected",
             status: int | None = None) -> DeadLetter:
        """Give up on an event: move it to the dead letters, never to be sent again. (A row no
        longer queued, delivered or dropped meanwhile by another sender, is left as it went.)"""
        now = self._now()
        with self._transaction() as db:
            if db.execute(f"DELETE FROM events WHERE {_THIS_ROW}",
                          (row.seq, row.event_id)).rowcount:
                db.execute(
                    "INSERT INTO dead_letters (event_id, kind, run_id, sensor, body, queued_at,"
                    " attempts, reason, status, last_error, dead_at) VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (row.event_id, row.kind, row.run_id, row.sensor, row.body, row.queued_at,
                     row.attempts + 1, reason, status, error, now))
                _remember(db, [(row.event_id, row.queued_at)])
        return DeadLetter(row.event_id, row.kind, row.run_id, row.sensor, row.body,
                          row.attempts + 1, reason, status, error,
                          datetime.fromtimestamp(row.queued_at, UTC),
                          datetime.fromtimestamp(now, UTC))

    def release_orphans(self) -> int:
        """Drop leases held by processes on this host that no longer exist."""
        self._ensure_open()
        with self._lock:
            owners = [owner for (owner,) in self._db.execute(
                "SELECT DISTINCT lease_owner FROM events WHERE lease_owner IS NOT NULL")]
        dead = [owner for owner in owners if owner != self.owner and not _owner_alive(owner)]
        if not dead:
            return 0
        with self._transaction() as db:
            return sum(db.execute("UPDATE events SET lease_owner = NULL, lease_until = NULL"
                                  " WHERE lease_owner = ?", (owner,)).rowcount for owner in dead)

    def pending(self) -> list[OutboxRow]:
        """Rows not yet acknowledged (held ones included; dead letters are elsewhere)."""
        self._writes.drain()
        self._ensure_open()
        with self._lock:
            return [_row(values) for values in self._db.execute(
                f"SELECT {_COLUMNS} FROM events ORDER BY seq")]

    def dead(self) -> list[DeadLetter]:
        """The dead letters, oldest first."""
        self._ensure_open()
        with self._lock:
            return [_dead(values) for values in self._db.execute(
                f"SELECT {_DEAD_COLUMNS} FROM dead_letters ORDER BY id")]

    def count_pending(self) -> int:
        self._writes.drain()
        self._ensure_open()
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    def contains(self, event_id: str) -> bool:
        """Whether this event is still queued (not delivered, not dead)."""
        self._writes.drain()
        self._ensure_open()
        with self._lock:
            return self._db.execute("SELECT 1 FROM events WHERE event_id = ?",
                                    (event_id,)).fetchone() is not None

    def state(self, event_id: str) -> tuple[str, str | None] | None:
        """("pending" | "dead" | "delivered", last error) for an id this outbox has seen."""
        self._writes.drain()
        self._ensure_open()
        with self._lock:
            row = self._db.execute("SELECT last_error FROM events WHERE event_id = ?",
                                   (event_id,)).fetchone()
            if row is not None:
                return "pending", row[0]
            row = self._db.execute("SELECT last_error FROM dead_letters WHERE event_id = ?"
                                   " ORDER BY id DESC LIMIT 1", (event_id,)).fetchone()
            if row is not None:
                return "dead", row[0]
            known = self._db.execute("SELECT 1 FROM seen WHERE event_id = ?",
                                     (event_id,)).fetchone()
        return ("delivered", None) if known else None

    def seen(self, event_id: str) -> bool:
        """Whether this id was queued here (and not forgotten since): queueing it again is
        refused."""
        return self.state(event_id) is not None

    def close(self) -> None:
        """Write what waits for the writer, give back this outbox's leases (nothing is in flight
        any more) and close the file."""
        self._writes.close()
        if self._connection is None:
            return
        with self._transaction() as db:
            db.execute("UPDATE events SET lease_owner = NULL, lease_until = NULL"
                       " WHERE lease_owner = ?", (self.owner,))
        with self._lock:
            self._db.close()
            self._connection = self._cursor = None
