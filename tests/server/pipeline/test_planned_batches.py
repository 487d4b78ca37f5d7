"""On SQLite the projector plans a batch (rows built, the state it needs read) before it takes the
write lock: appends are free meanwhile, and a plan whose position moved before the claim is
dropped, never applied."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.server.pipeline.test_rebuild import snapshot
from tests.support.ledger_world import Ledger, at, completion, heartbeat, new_run, resend
from timeledger.server.pipeline.projector import Projector
from timeledger.server.pipeline.rebuild import rebuild
from timeledger.server.store.database import create_engine
from timeledger.server.store.log_positions import read_positions
from timeledger.server.store.projection_tables import event_outcomes, runs

START = at("2025-03-03T09:00:00")
#: The projector's claim of its position: its first write in a batch's transaction.
CLAIM = "UPDATE projector_positions SET updated_at"
#: Reads of the state a batch needs (pipeline/batch_plan.py): stored learner days, and windows
#: near the batch's.
PLAN_READS = ("FROM learner_days", "run_windows.end_at >")


def _history(ledger: Ledger) -> None:
    """Two learners' heartbeats (one window resent under a new id), then their completions."""
    runs_of = {f"p{i}@example.edu": new_run() for i in range(2)}
    windows = [heartbeat(email, run, START + timedelta(seconds=15 * n), 12, 3)
               for n in range(4) for email, run in runs_of.items()]
    ledger.append(*windows, resend(windows[0]))
    ledger.append(*(completion(email, run, START + timedelta(minutes=5), 2, total=4, correct=3)
                    for email, run in runs_of.items()))


def _runs(ledger: Ledger) -> dict[str, tuple[int, int, int]]:
    return {row["learner_email"]: (row["active_ms"], row["heartbeats"], row["completions"])
            for row in ledger.rows(runs)}


def test_the_write_lock_is_free_while_the_projector_reads_what_a_batch_needs(
        tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    try:
        _history(ledger)
        engine = ledger.platform.engine
        database = str(engine.url.database)
        lock_free: list[bool] = []
        claims: list[int] = []  # how many plan reads had been made when each claim came

        def at_statement(_conn: object, _cursor: object, statement: str, *_rest: Any) -> None:
            if statement.startswith(CLAIM):
                claims.append(len(lock_free))
            elif "SELECT" in statement and any(read in statement for read in PLAN_READS):
                other = sqlite3.connect(database, timeout=0, isolation_level=None)
                try:  # an appender's BEGIN IMMEDIATE gets the lock at once, or fails at once
                    other.execute("BEGIN IMMEDIATE")
                    other.execute("ROLLBACK")
                    lock_free.append(True)
                except sqlite3.OperationalError:
                    lock_free.append(False)
                finally:
                    other.close()

        sa.event.listen(engine, "before_cursor_execute", at_statement)
        projector = Projector(engine, ledger.platform.pipeline_settings, ledger.platform.now,
                              batch_size=6)
        try:
            assert projector.project_until_caught_up() == 11
        finally:
            sa.event.remove(engine, "before_cursor_execute", at_statement)
        assert lock_free and all(lock_free), lock_free
        # each of the two batches read its state (two reads) before its claim took the lock
        assert claims == [2, 4], claims
        assert _runs(ledger) == {f"p{i}@example.edu": (48_000, 4, 1) for i in range(2)}
    finally:
        ledger.close()


def test_a_plan_whose_position_moved_before_the_claim_is_dropped(tmp_path: Path) -> None:
    """Another projector (`timeledger project` beside serve's) projects the batch between this
    one's plan and its claim: the claim finds the position moved and applies nothing."""
    ledger = Ledger(tmp_path)
    try:
        _history(ledger)
        engine = ledger.platform.engine
        settings = ledger.platform.pipeline_settings
        other_engine = create_engine(engine.url.render_as_string(hide_password=False))
        other = Projector(other_engine, settings, ledger.platform.now)
        overtaken: list[int] = []

        def overtake(_conn: object, _cursor: object, statement: str, *_rest: Any) -> None:
            if statement.startswith(CLAIM) and not overtaken:
                overtaken.append(other.project_until_caught_up())

        sa.event.listen(engine, "before_cursor_execute", overtake)
        late = Projector(engine, settings, ledger.platform.now)
        try:
            assert late.project_once() == 0  # its planned batch was dropped at the claim
        finally:
            sa.event.remove(engine, "before_cursor_execute", overtake)
            other_engine.dispose()
        assert overtaken and overtaken[0] > 0
        with engine.connect() as conn:
            assert read_positions(conn)[0].position.seq == overtaken[0]
        assert late.project_until_caught_up() == 0
        # counted once: 4 windows of 12 s per run, the resent window not again
        assert _runs(ledger) == {f"p{i}@example.edu": (48_000, 4, 1) for i in range(2)}
        assert [row["outcome"] for row in ledger.rows(event_outcomes)] == ["duplicate_window"]
        built = snapshot(ledger)
        rebuild(engine, settings)
        assert snapshot(ledger) == built
    finally:
        ledger.close()


def test_windows_already_stored_among_new_ones_are_counted_once(tmp_path: Path) -> None:
    """A batch's windows go in with one statement on SQLite; when some were stored before (sent
    again under new ids), the new ones are counted and the others reported as resent."""
    ledger = Ledger(tmp_path)
    try:
        run = new_run()
        first, second = (heartbeat("ada@example.edu", run, START + timedelta(seconds=15 * n), 10)
                         for n in range(2))
        ledger.send(first, second)
        later = [heartbeat("ada@example.edu", run, START + timedelta(seconds=15 * n), 10)
                 for n in range(2, 4)]
        job = ledger.send(later[0], resend(first), later[1], resend(second))
        assert [r.status for r in job.results] == [
            "stored", "duplicate_window", "stored", "duplicate_window"]
        assert _runs(ledger) == {"ada@example.edu": (40_000, 4, 0)}
        fresh = ledger.send(heartbeat("ada@example.edu", run, START + timedelta(minutes=5), 10),
                            heartbeat("ada@example.edu", run, START + timedelta(minutes=6), 10))
        assert [r.status for r in fresh.results] == ["stored", "stored"]
        assert _runs(ledger) == {"ada@example.edu": (60_000, 6, 0)}
    finally:
        ledger.close()


def test_a_line_item_already_stored_is_not_written_again(tmp_path: Path) -> None:
    """The batch's plan reads the stored line items: a completion of an activity whose line
    item already holds an earlier first sighting writes no line item row (a row every learner
    shares, which on PostgreSQL would be locked until the batch commits)."""
    ledger = Ledger(tmp_path)
    try:
        ledger.send(completion("ada@example.edu", new_run(), START, 2, total=4, correct=3))
        writes: list[str] = []

        def note(statement: str) -> None:
            if "gradebook_line_items" in statement and not statement.startswith("SELECT"):
                writes.append(statement)

        def trace(dbapi_connection: sqlite3.Connection, *_rest: Any) -> None:
            dbapi_connection.set_trace_callback(note)  # the driver's own statements too

        sa.event.listen(ledger.platform.engine, "checkout", trace)
        try:
            ledger.send(completion("bob@example.edu", new_run(), START + timedelta(hours=1), 2,
                                   total=4, correct=3))
            assert writes == []  # later than the stored first sighting: nothing to change
            ledger.send(completion("cy@example.edu", new_run(), START - timedelta(hours=1), 2,
                                   total=4, correct=3))
            assert len(writes) == 1  # earlier: the row moves its first sighting back
        finally:
            sa.event.remove(ledger.platform.engine, "checkout", trace)
    finally:
        ledger.close()
