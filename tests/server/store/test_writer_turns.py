"""SQLite writers take turns on a file lock: across processes, re-entrant within a thread."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from timeledger.server.store.availability import outage_reason
from timeledger.server.store.database import begin_write, create_engine, sqlite_url
from timeledger.server.store.migrate import ensure_schema
from timeledger.server.store.writer_turns import RETRY_PAUSES_S, WriterTurns, turns_for

pytestmark = pytest.mark.unit

# A second process: takes the store's turn, says so, and gives it back when told.
HOLDER = """
import sys
from timeledger.server.store.availability import outage_reason
from timeledger.server.store.writer_turns import RETRY_PAUSES_S, WriterTurns, turns_for
with turns_for(sys.argv[1]).turn():
    print("held", flush=True)
    sys.stdin.readline()
"""

# A second process: says whether the store's turn is free.
PROBE = """
import sys
from timeledger.server.store.availability import outage_reason
from timeledger.server.store.writer_turns import RETRY_PAUSES_S, WriterTurns, turns_for
print("free" if turns_for(sys.argv[1]).try_turn() else "taken")
"""


def probe(database: Path) -> str:
    return subprocess.run([sys.executable, "-c", PROBE, str(database)], capture_output=True,
                          text=True, check=True, timeout=60).stdout.strip()


def test_a_turn_held_by_another_process_is_taken_until_it_lets_go(tmp_path: Path) -> None:
    database = tmp_path / "store.sqlite3"
    turns = turns_for(str(database))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(database)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not turns.try_turn()
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.wait(timeout=60) == 0
        assert turns.try_turn()
    finally:
        holder.kill()


def test_a_turn_is_re_entrant_in_its_thread_and_exclusive_across_threads(tmp_path: Path) -> None:
    turns = turns_for(str(tmp_path / "store.sqlite3"))
    seen_from_other_thread: list[bool] = []
    with turns.turn():
        with turns.turn():  # a nested write path: no deadlock
            assert turns.try_turn()
        other = threading.Thread(target=lambda: seen_from_other_thread.append(turns.try_turn()))
        other.start()
        other.join()
        assert probe(tmp_path / "store.sqlite3") == "taken"  # still held after the inner exit
    assert seen_from_other_thread == [False]
    assert probe(tmp_path / "store.sqlite3") == "free"


def test_a_write_transaction_holds_the_turn_until_it_commits(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path))
    ensure_schema(engine, auto_create_empty=True)
    database = tmp_path / "timeledger.sqlite3"
    with begin_write(engine):
        assert probe(database) == "taken"
    assert probe(database) == "free"
    engine.dispose()


def test_waiting_past_the_bound_fails_as_a_locked_store(tmp_path: Path) -> None:
    database = tmp_path / "store.sqlite3"
    now = [0.0]
    pauses: list[float] = []

    def pause(seconds: float) -> None:  # a fake clock: each pause moves it on
        pauses.append(seconds)
        now[0] += seconds

    waiting = WriterTurns(str(database), timeout_s=0.01, clock=lambda: now[0], pause=pause)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(database)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(sa.exc.OperationalError) as refused, waiting.turn():
            pytest.fail("the turn was taken while another process held it")
    finally:
        holder.kill()
    assert outage_reason(refused.value) is not None  # answered as a locked store: a 503
    assert pauses[:3] == list(RETRY_PAUSES_S) and set(pauses[3:]) == {RETRY_PAUSES_S[-1]}
    assert 0.01 <= sum(pauses) < 0.01 + RETRY_PAUSES_S[-1]
