"""Background WAL checkpoints: the log stops growing while ingest goes on, and close folds it in."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.ledger_world import Ledger, at, heartbeat, new_run
from timeledger.server.store.checkpoints import COMMITS_PER_CHECKPOINT
from timeledger.server.store.database import SQLITE_FILE_NAME

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast

WAIT = 30.0


def wal_size(folder: Path) -> int:
    wal = folder / f"{SQLITE_FILE_NAME}-wal"
    return wal.stat().st_size if wal.exists() else 0


def send_windows(ledger: Ledger, runs: list[str], first: int, count: int) -> None:
    """Envelopes `first`..`first + count - 1`: each the next window of every run (appended, as
    the API does; the projector runs elsewhere)."""
    for n in range(first, first + count):
        start = at("2025-01-13T10:00:00") + timedelta(seconds=15 * n)
        ledger.append(*(heartbeat(f"learner{k}@example.edu", run, start, 15)
                        for k, run in enumerate(runs)))


def test_ingest_commits_never_checkpoint_inline(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    with ledger.platform.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    ledger.close()


def log_pages(folder: Path) -> int:
    """Pages in the log since it last started over (a no-op checkpoint when all are copied)."""
    busy, pages, _copied = sqlite3.connect(folder / SQLITE_FILE_NAME).execute(
        "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0
    return int(pages)


def test_the_log_is_copied_back_and_starts_over_while_ingest_goes_on(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    checkpointer = ledger.platform.checkpointer
    assert checkpointer is not None
    runs = [new_run() for _ in range(20)]
    send_windows(ledger, runs, 0, 1)
    assert checkpointer.settle(WAIT)
    one_commit = log_pages(tmp_path)

    for n in range(1, 200):
        send_windows(ledger, runs, n, 1)
        assert checkpointer.settle(WAIT)

    # Autocheckpoint is off: only the background checkpoints can have copied each commit back
    # so that the next one started the log over. Otherwise it would hold all 200 commits (later
    # commits touch a few times more pages than the first, as the trees grow).
    assert 0 < log_pages(tmp_path) < 10 * one_commit
    ledger.close()


def test_close_folds_the_whole_log_into_the_database_file(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    send_windows(ledger, [new_run() for _ in range(20)], 0, 20)
    ledger.close()

    assert wal_size(tmp_path) == 0
    # The database file alone (no log beside it) holds every event.
    (tmp_path / f"{SQLITE_FILE_NAME}-shm").unlink(missing_ok=True)
    copy = tmp_path / "alone.sqlite3"
    copy.write_bytes((tmp_path / SQLITE_FILE_NAME).read_bytes())
    assert sqlite3.connect(copy).execute("SELECT count(*) FROM events").fetchone() == (400,)



def test_a_checkpoint_is_asked_for_once_every_few_commits_not_after_each(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    checkpointer = ledger.platform.checkpointer
    assert checkpointer is not None
    runs = [new_run() for _ in range(5)]
    send_windows(ledger, runs, 0, COMMITS_PER_CHECKPOINT)  # one commit each
    assert checkpointer.asked == 1
    send_windows(ledger, runs, COMMITS_PER_CHECKPOINT, COMMITS_PER_CHECKPOINT - 1)
    assert checkpointer.asked == 1

    assert checkpointer.settle(WAIT)  # settling folds in the commits not yet checkpointed
    assert checkpointer.asked == 2
    assert checkpointer.settle(WAIT)  # and asks for nothing when every commit is in
    assert checkpointer.asked == 2
    ledger.close()
