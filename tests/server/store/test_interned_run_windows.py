"""`run_windows.run_id` interned on SQLite (migration 0032): the stored run ids become the ids of
their texts in `interned_texts` (a text the append interned already keeps its id), up, and 0021's
form back down, with rows across the copy's batches. The projector's writes and the readers are
tested in tests/server/pipeline/test_window_run_ids.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.support.postgres import Backend
from timeledger.server.store.migrate import downgrade, upgrade
from timeledger.server.store.projection_tables import run_windows

RUN = "cd209b87-6fe6-4016-8976-85ef8ce45b38"
# As 0021 stored them: a canonical lower-case uuid as its 16 bytes, anything else as text.
RUN_IDS = [RUN, str(uuid.UUID(int=7)), RUN.upper(), "run-7", str(uuid.UUID(int=9))]
WINDOWS = 25_000  # more than two of the copy's batches (10,000 rows each)
MICROSECONDS = 1_741_000_000_000_000


def _stored_0031(run_id: str) -> bytes | str:
    return uuid.UUID(run_id).bytes if run_id in (RUN, RUN_IDS[1], RUN_IDS[4]) else run_id


def _raw(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(
            "SELECT run_id, window_key, seq, event_id, event_time, start_at, end_at, "
            "bounds_reported, active_ms, inactive_ms, other_ms, overlap_event_id "
            "FROM run_windows ORDER BY seq")]


def _ddl(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'run_windows'").scalars().all())


@pytest.mark.backends("sqlite")  # PostgreSQL keeps its text
def test_stored_run_ids_become_interned_ids_through_the_upgrade_and_0021_s_form_down(
        backend: Backend, engine: Engine) -> None:
    upgrade(engine, "0031")
    # Each run's windows by seq; runs interleaved, so batches along the key cut runs anywhere.
    runs = [RUN_IDS[n % len(RUN_IDS)] for n in range(WINDOWS)]
    with engine.begin() as conn:
        # The append interned this run id with its events already (0031): the window takes its id.
        appended = conn.exec_driver_sql(
            "INSERT INTO interned_texts (value) VALUES ('https://s.example.edu'), (?) "
            "RETURNING id, value", (RUN_IDS[1],)).all()
        conn.exec_driver_sql(
            "INSERT INTO run_windows (run_id, window_key, seq, event_id, event_time, start_at, "
            "end_at, bounds_reported, active_ms, inactive_ms, other_ms, overlap_event_id) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, 1, 12000, 3000, 0, ?)",
            [(_stored_0031(run_id), 2 * seq + 1, seq, uuid.UUID(int=seq).bytes,
              MICROSECONDS + seq, MICROSECONDS + seq - 15, MICROSECONDS + seq,
              None if seq % 3 else uuid.UUID(int=seq + 1).bytes)
             for seq, run_id in enumerate(runs, start=1)])
    before, ddl_before = _raw(engine), _ddl(engine)
    upgrade(engine)
    after = _raw(engine)
    with engine.connect() as conn:
        texts = {int(key): str(value) for key, value in conn.exec_driver_sql(
            "SELECT id, value FROM interned_texts")}
        types = conn.exec_driver_sql(
            "SELECT DISTINCT typeof(run_id) FROM run_windows").scalars().all()
        read = conn.execute(sa.select(run_windows.c.run_id).order_by(run_windows.c.seq)
                            ).scalars().all()
        by_run = conn.execute(sa.select(sa.func.count()).where(
            run_windows.c.run_id == RUN)).scalar_one()
    assert types == ["integer"]
    assert [texts[int(str(row[0]))] for row in after] == runs
    assert read == runs
    assert by_run == runs.count(RUN)
    assert [row[1:] for row in after] == [row[1:] for row in before]  # the rest as it was
    # a text already interned keeps its id; the others are added once each, by first appearance
    assert {value: key for key, value in texts.items()}[RUN_IDS[1]] == appended[1][0]
    assert [texts[key] for key in sorted(texts)] == [
        "https://s.example.edu", RUN_IDS[1], RUN, RUN.upper(), "run-7", RUN_IDS[4]]
    assert any("run_id INTEGER NOT NULL" in sql for sql in _ddl(engine))
    assert len(_ddl(engine)) == 3  # the table and its two indexes
    downgrade(engine, "0031")
    assert _raw(engine) == before
    assert _ddl(engine) == ddl_before


def test_windows_of_a_store_without_any_go_through_the_upgrade_and_back(
        backend: Backend, engine: Engine) -> None:
    upgrade(engine, "0031")
    upgrade(engine)
    downgrade(engine, "0031")
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(run_windows)).scalar_one() == 0
        assert conn.execute(sa.select(run_windows.c.run_id).where(
            run_windows.c.start_at > datetime(2025, 1, 1, tzinfo=UTC))).all() == []
