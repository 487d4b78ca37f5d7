"""`run_windows.run_id` interned on SQLite (migration 0032): the projector writes the id of the run
id's text, the one the append interned with the run's events, under the append's rule (an id is
remembered across transactions only once proven committed); every reader by run compares through
the id and still walks the table's key or one of its indexes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.ledger_world import Ledger, at, completion, heartbeat, new_run
from tests.support.query_plans import plan_steps, recorded_statements
from timeledger.server.pipeline.calendar import LocalDates, zone_of
from timeledger.server.pipeline.prepared import Prepared, prepare
from timeledger.server.pipeline.projector import read_batch
from timeledger.server.pipeline.windows import WindowInserts
from timeledger.server.queries.run_lists import run_windows_page
from timeledger.server.store.database import create_engine
from timeledger.server.store.interned_texts import text_ids
from timeledger.server.store.log_positions import Position
from timeledger.server.store.migrate import upgrade
from timeledger.server.store.projection_tables import run_windows

pytestmark = pytest.mark.backends("sqlite")  # PostgreSQL keeps its text column

START = at("2025-03-03T09:00:00")
EMAIL = "ada@example.edu"


def _heartbeats(run: str, count: int, *, offset_s: int = 0) -> list[dict[str, Any]]:
    return [heartbeat(EMAIL, run, START + timedelta(seconds=offset_s + 15 * n), 12, 3)
            for n in range(count)]


def _interned(conn: sa.Connection) -> dict[int, str]:
    return dict(conn.exec_driver_sql("SELECT id, value FROM interned_texts").all())


def test_a_window_holds_the_id_its_events_hold_and_reads_back_as_the_run_id(
        tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    try:
        runs = [new_run(), new_run().upper()]  # stored (and read) in lower case
        ledger.append(*_heartbeats(runs[0], 3), *_heartbeats(runs[1], 2))
        with ledger.platform.engine.connect() as conn:
            texts_before = _interned(conn)
        ledger.send(*_heartbeats(runs[0], 2, offset_s=300))
        with ledger.platform.engine.connect() as conn:
            stored = conn.exec_driver_sql(
                "SELECT run_id, typeof(run_id), seq FROM run_windows ORDER BY seq").all()
            of_events = {int(seq): run_id for seq, run_id in conn.exec_driver_sql(
                "SELECT seq, run_id FROM events")}
            texts = _interned(conn)
            read = conn.execute(sa.select(run_windows.c.seq, run_windows.c.run_id)
                                .order_by(run_windows.c.seq)).all()
        assert len(stored) == 7
        assert {kind for _id, kind, _seq in stored} == {"integer"}
        # The id the append interned for the window's event: no text of its own for the window.
        assert [run_id for run_id, _kind, seq in stored] == [of_events[seq] for *_, seq in stored]
        # Planned ahead, the projection found every run id stored: it interned nothing new.
        new_texts = {key: value for key, value in texts.items() if key not in texts_before}
        assert set(new_texts.values()) <= {EMAIL, f"id-{EMAIL}"}
        assert [run_id for _seq, run_id in read] == [runs[0]] * 3 + [runs[1].lower()] * 2 + [
            runs[0]] * 2
        assert texts[stored[0][0]] == runs[0]
    finally:
        ledger.close()


def _reports(tmp_path: Path, run: str) -> list[Prepared]:
    """Time reports of `run` as the projector prepares them, read from a log of another store."""
    (tmp_path / "log").mkdir()
    ledger = Ledger(tmp_path / "log")
    try:
        ledger.append(*_heartbeats(run, 3))
        with ledger.platform.engine.connect() as conn:
            batch = read_batch(conn, 0, Position(0, 0), 100)
    finally:
        ledger.close()
    assert batch is not None
    dates = LocalDates(zone_of("UTC"))
    return [prepare(event, dates) for event in batch.items]


def test_a_run_id_the_projector_interned_in_a_batch_rolled_back_is_interned_again(
        tmp_path: Path) -> None:
    """The projector interns a run id not stored yet inside its transaction; rolled back, its
    row is gone and SQLite hands the same id to the next text: the id must not be kept."""
    run = new_run()
    reports = _reports(tmp_path, run)
    engine = create_engine(f"sqlite:///{tmp_path / 'projections.sqlite3'}")
    upgrade(engine)
    try:
        with engine.connect() as projector, engine.connect() as other:
            with projector.begin() as batch:
                WindowInserts(projector, reports).run(projector)
                first = projector.exec_driver_sql("SELECT run_id FROM run_windows").scalars().all()
                batch.rollback()
            with other.begin():  # another writer (the append) takes the freed id
                taken = text_ids(other, ["https://other.example.edu"])["https://other.example.edu"]
            assert taken == first[0]
            with projector.begin():
                WindowInserts(projector, reports).run(projector)
            read = projector.execute(sa.select(run_windows.c.run_id)).scalars().all()
            stored = projector.exec_driver_sql("SELECT run_id FROM run_windows").scalars().all()
        assert read == [run] * 3
        assert stored[0] != taken
    finally:
        engine.dispose()


def _plans_of(engine: sa.Engine, statements: list[tuple[str, Any]]) -> dict[str, str]:
    """Each statement that reads or changes run_windows, with its plan."""
    plans: dict[str, str] = {}
    for statement, parameters in statements:
        if "run_windows" not in statement or statement.lstrip().startswith("INSERT"):
            continue
        one = parameters[0] if isinstance(parameters, list) else parameters
        plans[" ".join(statement.split())] = " | ".join(plan_steps(engine, statement, one))
    return plans


def test_every_read_of_a_runs_windows_walks_an_index_by_its_interned_id(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    try:
        run = new_run()
        engine = ledger.platform.engine
        ledger.send(*_heartbeats(run, 6))
        # An overlapping report (marked on its row), then a completion (the double-time flag's
        # read of the run's overlapped windows).
        statements = recorded_statements(engine, lambda: (
            ledger.send(*_heartbeats(run, 2, offset_s=5)),
            ledger.send(completion(EMAIL, run, START + timedelta(minutes=5), 2))))
        with engine.connect() as conn:
            first = run_windows_page(conn, run, 2)
            statements += recorded_statements(
                engine, lambda: run_windows_page(conn, run, 2, after=first["next"]))
        plans = _plans_of(engine, statements)
        wanted = {"overlap check": "ix_run_windows_end (run_id=? AND end_at>?",
                  "overlap mark": "PRIMARY KEY (run_id=? AND window_key=?)",
                  "double-time flag": "PRIMARY KEY (run_id=?)",
                  "a run's windows page": "ix_run_windows_start (run_id=? AND start_at>?"}
        for what, step in wanted.items():
            assert any(step in plan for plan in plans.values()), (what, plans)
        for statement, plan in plans.items():
            assert "SCAN run_windows" not in plan and "TEMP B-TREE" not in plan, (statement, plan)
            # the run id compared as the id of its text, looked up once by the text's key
            assert any(f"run_windows.run_id {compared}(SELECT id FROM interned_texts WHERE value "
                       "= ?)" in statement for compared in ("= ", "IN (")), statement
    finally:
        ledger.close()
