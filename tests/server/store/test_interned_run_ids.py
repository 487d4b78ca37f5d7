"""`events.run_id` interned on SQLite (migration 0031): the row holds the id of the run id's text
in `interned_texts`, as sensor, actor id and e-mail do (test_interned_texts.py). The readers, the
run filter's plan and compaction are tested in test_narrow_terms.py; here the migration converts
stored rows up and down."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.support.events_ddl import events_ddl
from tests.support.postgres import Backend
from timeledger.server.queries.event_log import log_page
from timeledger.server.store.event_appends import append_rows
from timeledger.server.store.migrate import downgrade, upgrade
from timeledger.server.store.schema import events

RUN = "cd209b87-6fe6-4016-8976-85ef8ce45b38"
OTHER = str(uuid.UUID(int=7))
# As 0030 stored them: a canonical lower-case uuid as its 16 bytes, anything else as text.
RUN_IDS: list[str | None] = [RUN, OTHER, RUN.upper(), "run-7", None, RUN]
RECEIVED = 1_741_000_000_000_000  # microseconds, as 0026 stores times


def _raw(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(
            "SELECT seq, run_id, sensor FROM events ORDER BY seq")]


def _stored_0030(run_id: str | None) -> bytes | str | None:
    return uuid.UUID(run_id).bytes if run_id in (RUN, OTHER) else run_id


@pytest.mark.backends("sqlite")  # PostgreSQL keeps its text
def test_stored_run_ids_become_interned_ids_through_the_upgrade_and_0030_s_form_down(
        backend: Backend, engine: Engine) -> None:
    upgrade(engine, "0030")
    runs = RUN_IDS * 4
    seqs = [1, 2, 15_000, 30_001, *range(30_002, 30_002 + len(runs) - 4)]
    with engine.begin() as conn:
        sensor = conn.exec_driver_sql(
            "INSERT INTO interned_texts (value) VALUES ('https://s.example.edu') RETURNING id"
        ).scalar_one()
        for n, (seq, run_id) in enumerate(zip(seqs, runs, strict=True)):
            conn.exec_driver_sql(
                "INSERT INTO events (seq, event_id, body_hash, kind, type, run_id, sensor, "
                "received_at, job_id, event_time, body) VALUES (?, ?, '', 'event', "
                "'TimeSpentEvent', ?, ?, ?, 'job', ?, '{}')",
                (seq, f"urn:uuid:{uuid.UUID(int=n + 1)}", _stored_0030(run_id), sensor,
                 RECEIVED, RECEIVED))
    before, schema_before = _raw(engine), events_ddl(engine)
    assert [row[1] for row in before] == [_stored_0030(run_id) for run_id in runs]
    upgrade(engine)
    after = _raw(engine)
    with engine.connect() as conn:
        texts: dict[int, str] = {
            id_: value for id_, value in conn.exec_driver_sql(
                "SELECT id, value FROM interned_texts")}
    assert [row[0] for row in after] == seqs
    assert all(isinstance(row[1], int) for row in after if row[1] is not None)
    assert [None if row[1] is None else texts[row[1]] for row in after] == runs
    # One id a run, interned by first appearance (after the sensor the store had).
    assert [texts[n] for n in sorted(texts)] == [
        "https://s.example.edu", RUN, OTHER, RUN.upper(), "run-7"]
    assert [row[2] for row in after] == [sensor] * len(runs)
    schema_after = events_ddl(engine)
    assert {name: sql for name, sql in schema_after.items() if name != "events"} == {
        name: sql for name, sql in schema_before.items() if name != "events"}
    assert "\trun_id INTEGER," in str(schema_after["events"])
    assert str(schema_after["events"]).replace("\trun_id INTEGER,", "\trun_id VARCHAR(64),") == (
        schema_before["events"])
    with engine.connect() as conn:
        read = conn.execute(sa.select(events.c.run_id).order_by(events.c.seq)).scalars().all()
        assert len(log_page(conn, run_id=f"urn:uuid:{RUN.upper()}", limit=100).events) == 8
        assert len(log_page(conn, run_id="RUN-7", limit=100).events) == 4  # lower-cased
    assert read == runs
    with engine.begin() as conn:  # the append goes on with the ids the migration gave
        append_rows(conn, [{
            "event_id": "urn:uuid:" + str(uuid.UUID(int=999)), "body_hash": "",
            "kind": "event", "type": "TimeSpentEvent", "action": None, "profile": None,
            "actor_id": None, "learner_email": None, "run_id": OTHER,
            "event_time": None, "sensor": "https://s.example.edu",
            "received_at": datetime(2025, 3, 3, 11, 6, 40, tzinfo=UTC),
            "job_id": "job", "body": "{}", "partition": None}])
    assert _raw(engine)[-1][1:] == after[1][1:]
    with engine.begin() as conn:
        conn.execute(events.delete().where(events.c.seq > seqs[-1]))
    downgrade(engine, "0030")
    assert _raw(engine) == before
    assert events_ddl(engine) == schema_before
