"""An outbox file of schema version 2 is rebuilt in version 3's form when opened, losing nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.sdk.test_outbox import event
from timeledger.sdk.outbox import SCHEMA_VERSION, Dropped, Outbox, OutboxRow
from timeledger.testing import FakeClock

# Version 2's schema text, as timeledger wrote it (src/timeledger/sdk/outbox.py before version 3).
V2_SCHEMA = """
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
    strikes INTEGER NOT NULL DEFAULT 0,
    held_until REAL,
    lease_owner TEXT,
    lease_until REAL
);
CREATE INDEX IF NOT EXISTS events_ready ON events (held_until, sensor, seq);
CREATE TABLE IF NOT EXISTS dead_letters (
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
);
CREATE INDEX IF NOT EXISTS dead_letters_event ON dead_letters (event_id);
CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY, first_seen REAL NOT NULL)
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_age ON seen (first_seen);
CREATE TABLE IF NOT EXISTS outbox_size (id INTEGER PRIMARY KEY CHECK (id = 1),
    events INTEGER NOT NULL);
INSERT OR IGNORE INTO outbox_size (id, events) SELECT 1, count(*) FROM events;
CREATE TRIGGER IF NOT EXISTS events_counted_in AFTER INSERT ON events
    BEGIN UPDATE outbox_size SET events = events + 1; END;
CREATE TRIGGER IF NOT EXISTS events_counted_out AFTER DELETE ON events
    BEGIN UPDATE outbox_size SET events = events - 1; END;
PRAGMA user_version = 2;
"""
KINDS = {1: "heartbeat", 2: "heartbeat", 3: "event", 4: "event", 5: "completion", 6: "heartbeat",
         7: "heartbeat"}


def write_v2_file(path: Path, queued: float) -> dict[int, OutboxRow]:
    """Seven events as version 2 kept them: 1, 6 and 7 delivered (the sequence is at 7), 4 buried,
    2 failed twice under a lease that ran out, 3 held after a strike, 5 a completion waiting.
    Returns the rows that wait, as the outbox must give them back."""
    with sqlite3.connect(path) as old:
        old.execute("PRAGMA journal_mode = WAL")
        old.executescript(V2_SCHEMA)
        old.executemany(
            "INSERT INTO events (event_id, kind, run_id, sensor, body, queued_at)"
            " VALUES (?, ?, 'run', 'https://a.example.com', ?, ?)",
            [(event(n).event_id, KINDS[n], event(n).body, queued) for n in range(1, 8)])
        old.execute("UPDATE events SET attempts = 2, last_error = 'HTTP 503',"
                    " lease_owner = 'elsewhere:1:gone', lease_until = ? WHERE seq = 2",
                    (queued + 60,))
        old.execute("UPDATE events SET attempts = 1, last_error = 'HTTP 500', strikes = 1,"
                    " held_until = ? WHERE seq = 3", (queued + 3600,))
        old.execute(
            "INSERT INTO dead_letters (event_id, kind, run_id, sensor, body, queued_at, attempts,"
            " reason, status, last_error, dead_at) SELECT event_id, kind, run_id, sensor, body,"
            " queued_at, 1, 'rejected', 400, 'HTTP 400: bad', ? FROM events WHERE seq = 4",
            (queued + 5,))
        old.execute("INSERT INTO seen SELECT event_id, queued_at FROM events"
                    " WHERE seq IN (1, 4, 6, 7)")
        old.execute("DELETE FROM events WHERE seq IN (1, 4, 6, 7)")
        assert old.execute("SELECT events FROM outbox_size").fetchone()[0] == 3
        assert old.execute("SELECT seq FROM sqlite_sequence").fetchone()[0] == 7
    return {n: OutboxRow(n, event(n).event_id, KINDS[n], "run",  # type: ignore[arg-type]
                         "https://a.example.com", event(n).body, attempts, error, queued,
                         strikes, held)
            for n, attempts, error, strikes, held in [(2, 2, "HTTP 503", 0, False),
                                                      (3, 1, "HTTP 500", 1, True),
                                                      (5, 0, None, 0, False)]}


def test_a_version_2_file_keeps_every_event_dead_letter_and_id(tmp_path: Path) -> None:
    path, clock = tmp_path / "outbox.sqlite3", FakeClock()
    queued = clock.now().timestamp() - 600
    waiting = write_v2_file(path, queued)
    told: list[Dropped] = []
    box = Outbox(path, clock, max_events=4, on_drop=told.append)

    assert box.pending() == [waiting[2], waiting[3], waiting[5]]
    [letter] = box.dead()
    assert (letter.event_id, letter.kind, letter.attempts, letter.reason, letter.status,
            letter.last_error, letter.queued_at.timestamp(), letter.dead_at.timestamp()) == (
        event(4).event_id, "event", 1, "rejected", 400, "HTTP 400: bad", queued, queued + 5)
    assert [box.state(event(n).event_id) for n in range(1, 8)] == [
        ("delivered", None), ("pending", "HTTP 503"), ("pending", "HTTP 500"),
        ("dead", "HTTP 400: bad"), ("pending", None), ("delivered", None), ("delivered", None)]
    assert box.add([event(n) for n in range(1, 9)]) == [False] * 7 + [True]
    claimed = box.claim(10, 10_000)  # 2's lease ran out; 3 is held
    assert [row.event_id for row in claimed] == [event(n).event_id for n in (2, 5, 8)]

    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert check.execute("SELECT name FROM sqlite_master WHERE type IN ('trigger', 'table')"
                             " AND name IN ('outbox_size', 'events_old')"
                             " OR type = 'trigger'").fetchall() == []
        assert check.execute("SELECT count(*) FROM sqlite_sequence WHERE name = 'events'"
                             ).fetchone()[0] == 0
        table = check.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()[0]
        assert "AUTOINCREMENT" not in table.upper()
        assert check.execute("SELECT count(*) FROM sqlite_master WHERE name = 'events_ready'"
                             ).fetchone()[0] == 1
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    box.add([event(9)])  # five queued over a bound of four: the oldest heartbeat goes
    assert told == [Dropped((event(2).event_id,), {"heartbeat": 1})]
    assert [row.event_id for row in box.pending()] == [event(n).event_id for n in (3, 5, 8, 9)]
    box.close()
    reopened = Outbox(path, clock)  # opening again changes nothing
    assert [row.seq for row in reopened.pending()] == [3, 5, 6, 7]  # new seqs follow the old
    reopened.close()


def test_an_upgrade_that_fails_leaves_the_version_2_file_as_it_was(tmp_path: Path) -> None:
    path, clock = tmp_path / "outbox.sqlite3", FakeClock()
    waiting = write_v2_file(path, clock.now().timestamp())
    with sqlite3.connect(path) as old:  # the rebuild's scratch name taken: it fails midway
        old.execute("CREATE TABLE events_old (x)")
    with pytest.raises(sqlite3.OperationalError, match="events_old"):
        Outbox(path, clock)
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == 2
        assert check.execute("SELECT events FROM outbox_size").fetchone()[0] == 3
        assert check.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
                             ).fetchone()[0] == 2
        assert [seq for (seq,) in check.execute("SELECT seq FROM events ORDER BY seq")] == [2, 3, 5]
        check.execute("DROP TABLE events_old")
    box = Outbox(path, clock)
    assert box.pending() == list(waiting.values())
    box.close()


# What a version 2 process runs to queue one event and to read its size (outbox.py before 3).
V2_KNOWN_IDS = ("SELECT event_id, NULL FROM events WHERE event_id IN (?) UNION ALL"
                " SELECT event_id, NULL FROM seen WHERE event_id IN (?) UNION ALL"
                " SELECT NULL, events FROM outbox_size")
V2_INSERT = ("INSERT INTO events (event_id, kind, run_id, sensor, body, queued_at)"
             " VALUES (?, ?, ?, ?, ?, ?)")


def test_a_version_2_process_still_running_keeps_queueing_into_an_upgraded_file(
        tmp_path: Path) -> None:
    path, clock = tmp_path / "outbox.sqlite3", FakeClock()
    write_v2_file(path, clock.now().timestamp())
    with sqlite3.connect(path, isolation_level=None) as old:  # opened before the upgrade
        box = Outbox(path, clock)  # a new process upgrades the file
        new = event(8)
        old.execute("BEGIN IMMEDIATE")
        known = old.execute(V2_KNOWN_IDS, (new.event_id, new.event_id)).fetchall()
        assert known == [(None, 3)]  # not known; three queued, as the old counter said
        old.execute(V2_INSERT, (new.event_id, "heartbeat", "run", "https://a.example.com",
                                new.body, clock.now().timestamp()))
        old.execute("COMMIT")
        assert old.execute("SELECT events FROM outbox_size").fetchone()[0] == 4
    assert new.event_id in [row.event_id for row in box.pending()]
    assert box.count_pending() == 4
    box.close()
