"""The events row narrower on SQLite (migration 0029): `run_id` as the uuid's 16 bytes (interned
since 0031: test_interned_run_ids.py) and `kind`, `type`, `action`, `profile` as a code of
store/term_codes.py. Every reader (Core queries, the list and explorer filters, GET
/caliper/events, export, the projector, compaction) sees the same text; values in any other form
stay text; the migration converts stored rows up and down."""

from __future__ import annotations

import hashlib
import importlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.support.events_ddl import events_ddl
from tests.support.platform import PlatformProcess
from tests.support.postgres import Backend
from tests.support.query_plans import plans_of_statements_holding
from timeledger.caliper.builders import ActivityRef, Learner, envelope
from timeledger.caliper.builders import time_spent_event as heartbeat
from timeledger.caliper.core import vocabulary
from timeledger.caliper.core.entities import ENTITY_TYPES
from timeledger.caliper.core.events import EVENT_TYPES
from timeledger.server.pipeline.rebuild import count_timeback_events
from timeledger.server.queries.event_log import events_by_id, log_page, stored_event_json
from timeledger.server.store.compact_keys import TERM_BYTES, TERM_VALUES, UuidText, term_text
from timeledger.server.store.compaction import CompactionPolicy, compact_events
from timeledger.server.store.event_appends import append_rows
from timeledger.server.store.event_bodies import BODY_COLUMNS, event_body
from timeledger.server.store.event_selection import event_conditions
from timeledger.server.store.migrate import downgrade, upgrade
from timeledger.server.store.schema import events
from timeledger.server.store.term_codes import CODES, TERMS

# The table as it stood when codes were first given: its first 202 terms, in order. A term may be
# added at the end; none of these may move or change (rows on disk hold their codes).
FIRST_TERMS = 202
FIRST_TERMS_SHA256 = "43a670c8100651184f0b9c920d761f17ee2f644f92dff4bed2a44842000bd190"

RUN = "cd209b87-6fe6-4016-8976-85ef8ce45b38"
# Migration 0029 kept a run id as 16 bytes only as a canonical lower-case uuid, anything else as
# stored; since 0031 the append interns every run id (an integer id of its text).
RUN_IDS: dict[str | None, type | None] = {
    RUN: bytes, RUN.upper(): str, RUN.replace("-", ""): str, "run-7": str, None: None}
# (kind, type, action, profile): known terms become codes, anything else stays text.
TERM_ROWS: list[tuple[str, str, str | None, str | None]] = [
    ("event", "TimeSpentEvent", "SpentTime", "TimebackProfile"),
    ("event", "ActivityEvent", "Completed", "TimebackProfile"),
    ("entity", "Person", None, None),
    ("event", "CustomEvent", "Spun", "MyProfile"),  # not Caliper's: text
    ("event", "timeSpentEvent", "5", "0"),  # case and digits: text, not a code
]
RECEIVED = datetime(2025, 3, 3, 8, 0, 30, tzinfo=UTC)


def _rows() -> list[dict[str, Any]]:
    rows = []
    for n, ((kind, type_, action, profile), run_id) in enumerate(
            (terms, run) for terms in TERM_ROWS for run in RUN_IDS):
        event_id = f"urn:uuid:{uuid.UUID(int=n + 1)}"
        rows.append({
            "event_id": event_id, "body_hash": "", "kind": kind, "type": type_,
            "action": action, "profile": profile, "actor_id": None, "learner_email": None,
            "run_id": run_id, "event_time": RECEIVED, "sensor": "https://s.example.edu",
            "received_at": RECEIVED, "job_id": "job", "partition": None,
            "body": json.dumps({"id": event_id, "type": type_}, separators=(",", ":"))})
    return rows


def _raw(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(
            "SELECT seq, kind, type, action, profile, run_id FROM events ORDER BY seq")]


def test_the_code_table_only_grows_and_holds_caliper_s_vocabularies() -> None:
    assert hashlib.sha256("\n".join(TERMS[:FIRST_TERMS]).encode()).hexdigest() == (
        FIRST_TERMS_SHA256)
    assert TERMS[:4] == ("event", "entity", "Event", "AnnotationEvent")  # spelled out, too
    assert len(set(TERMS)) == len(TERMS) and CODES["SpentTime"] == TERMS.index("SpentTime")
    caliper = {*EVENT_TYPES, *ENTITY_TYPES, *vocabulary.PROFILES, *vocabulary.ACTIONS,
               *vocabulary.TIMEBACK_ACTIONS}
    assert caliper <= set(TERMS)
    # Migration 0029 wrote codes from its own copy of the table: the same codes.
    migration = importlib.import_module(
        "timeledger.server.store.migrations.versions."
        "0029_events_run_ids_as_16_bytes_and_caliper_terms_as_codes_on_sqlite")
    assert TERMS[:len(migration._TERMS)] == migration._TERMS
    assert all(TERM_BYTES[term] == bytes((code,)) for code, term in enumerate(TERMS))
    with pytest.raises(ValueError, match="no Caliper term has the code ff"):
        term_text(b"\xff")
    # What the append binds: a known term's code, anything else as given (and nothing kept).
    assert TERM_VALUES["TimeSpentEvent"] == bytes((TERMS.index("TimeSpentEvent"),))
    assert TERM_VALUES["Spun"] == "Spun" and TERM_VALUES[None] is None
    assert len(TERM_VALUES) == len(TERMS)


@pytest.fixture
def stored(backend: Backend, engine: Engine) -> Iterator[tuple[Engine, list[dict[str, Any]]]]:
    upgrade(engine)
    rows = _rows()
    with engine.begin() as conn:
        written, _ = append_rows(conn, rows)  # the request path's append
    assert len(written) == len(rows)
    yield engine, rows


def test_sqlite_stores_codes_and_interned_run_ids_and_other_values_as_text(
        stored: tuple[Engine, list[dict[str, Any]]]) -> None:
    engine, rows = stored
    raw = _raw(engine)
    if engine.dialect.name != "sqlite":  # PostgreSQL keeps the text
        assert [row[1:] for row in raw] == [
            (r["kind"], r["type"], r["action"], r["profile"], r["run_id"]) for r in rows]
        return
    for row, (_, kind, type_, action, profile, run_id) in zip(rows, raw, strict=True):
        for given, kept in ((row["kind"], kind), (row["type"], type_), (row["action"], action),
                            (row["profile"], profile)):
            if given in CODES:
                assert kept == bytes((TERMS.index(given),))
            else:
                assert kept == given
        assert type(run_id) is (int if row["run_id"] is not None else type(None))
    with engine.connect() as conn:
        interned: dict[int, str] = {
            id_: value for id_, value in conn.exec_driver_sql(
                "SELECT id, value FROM interned_texts")}
    assert [None if row[5] is None else interned[row[5]] for row in raw] == [
        r["run_id"] for r in rows]


def test_every_reader_sees_the_terms_and_run_ids_as_given(
        stored: tuple[Engine, list[dict[str, Any]]]) -> None:
    engine, rows = stored
    given = [(r["kind"], r["type"], r["action"], r["profile"], r["run_id"]) for r in rows]
    ids = [r["event_id"] for r in rows]
    with engine.connect() as conn:
        read = conn.execute(sa.select(events).order_by(events.c.seq)).all()
        shown = [stored_event_json(conn, row) for row in read]
        by_id = events_by_id(conn, ids)

        def selected(**where: Any) -> list[str]:
            return list(conn.execute(sa.select(events.c.event_id).where(
                *event_conditions(**where)).order_by(events.c.seq)).scalars())

        def paged(**where: Any) -> list[str]:
            return [item.json["eventId"] for item in reversed(
                log_page(conn, limit=100, **where).events)]

        for type_ in {r["type"] for r in rows}:
            expected = [r["event_id"] for r in rows if r["type"] == type_]
            assert selected(event_type=type_) == paged(event_type=type_) == expected
        for run_id in RUN_IDS:
            if run_id is None:
                continue
            expected = [r["event_id"] for r in rows if r["run_id"] == run_id]
            # The filter takes a run id as `urn:uuid:` and in any case, as the API does.
            wanted = run_id.removeprefix("urn:uuid:").lower()
            expected = [r["event_id"] for r in rows if r["run_id"] == wanted]
            assert selected(run_id=run_id) == paged(run_id=run_id) == expected
        assert selected(run_id=f"urn:uuid:{RUN.upper()}") == selected(run_id=RUN)
        assert len(selected(run_id=RUN)) == len(TERM_ROWS)
        # rebuild counts Timeback events by kind, profile and type in SQL.
        timeback = sum(kind == "event" and (profile == "TimebackProfile"
                                            or type_ == "TimeSpentEvent")
                       for kind, type_, _, profile, _ in given)
        assert count_timeback_events(conn) == timeback
        _, again = append_rows(conn, rows)  # the dedupe lookup finds each
        assert sorted(again) == sorted(ids)
    assert [(row.kind, row.type, row.action, row.profile, row.run_id) for row in read] == given
    assert [(item["type"], item["action"], item["profile"], item["runId"])
            for item in shown] == [(t, a, p, r) for _, t, a, p, r in given]
    assert {event_id: item["runId"] for event_id, item in by_id.items()} == {
        r["event_id"]: r["run_id"] for r in rows}


@pytest.mark.backends("sqlite")
def test_the_type_and_run_filters_still_walk_their_indexes(
        stored: tuple[Engine, list[dict[str, Any]]]) -> None:
    engine, _ = stored
    with engine.begin() as conn:  # enough rows that a scan would cost more than the index
        more = [{**row, "event_id": f"urn:uuid:{uuid.uuid4()}"} for row in _rows() * 40]
        append_rows(conn, more)
        conn.exec_driver_sql("ANALYZE")
    by_type = plans_of_statements_holding(
        engine, lambda conn: log_page(conn, event_type="TimeSpentEvent", limit=50),
        "events.type =")
    assert all("ix_events_type_seq" in plan for plan in by_type), by_type
    by_run = plans_of_statements_holding(
        engine, lambda conn: log_page(conn, run_id=RUN, limit=50), "events.run_id =")
    assert all("ix_events_run" in plan for plan in by_run), by_run
    # The codes and bytes the filters bind find the rows the index holds.
    with engine.connect() as conn:
        assert len(log_page(conn, event_type="TimeSpentEvent", limit=1000).events) == 41 * 5
        assert len(log_page(conn, run_id=RUN, limit=1000).events) == 41 * 5


@pytest.mark.backends("sqlite")
def test_compaction_takes_the_run_id_out_of_bodies_and_puts_it_back(
        stored: tuple[Engine, list[dict[str, Any]]]) -> None:
    engine, _ = stored
    with engine.begin() as conn:  # heartbeats whose body repeats the run id the column holds
        rows = []
        for n in range(40):
            body = json.dumps({"id": f"urn:uuid:{uuid.UUID(int=1000 + n)}", "type":
                               "TimeSpentEvent", "extensions": {"runId": RUN},
                               "session": f"urn:uuid:{RUN}"}, separators=(",", ":"))
            rows.append({**_rows()[0], "event_id": f"urn:uuid:{uuid.UUID(int=1000 + n)}",
                         "body": body})
        append_rows(conn, rows)
        texts = {row.seq: event_body(conn, row)
                 for row in conn.execute(sa.select(events.c.seq, *BODY_COLUMNS))}
    policy = CompactionPolicy(first_training_events=10, training_samples=100,
                              dictionary_bytes=1024)
    with engine.begin() as conn:
        compact_events(conn, max(texts), 1000, policy)
        read = {row.seq: (event_body(conn, row), row.packed)
                for row in conn.execute(sa.select(events.c.seq, *BODY_COLUMNS))}
    assert {seq: text for seq, (text, _) in read.items()} == texts
    heartbeats = [packed for text, packed in read.values() if RUN in text]
    assert heartbeats and all(packed[0] == 0x01 and packed[1] & 0b110000 == 0b110000
                              for packed in heartbeats)  # runId and session taken out


@pytest.mark.backends("sqlite")  # PostgreSQL keeps its text
def test_stored_rows_become_codes_and_bytes_through_the_upgrade_and_text_again_down(
        backend: Backend, engine: Engine) -> None:
    upgrade(engine, "0028")
    rows = _rows()
    seqs = [1, 2, 15_000, 30_001, *range(30_002, 30_002 + len(rows) - 4)]
    with engine.begin() as conn:
        for seq, row in zip(seqs, rows, strict=True):
            conn.execute(sa.text(
                "INSERT INTO events (seq, event_id, body_hash, kind, type, action, profile, "
                "run_id, sensor, received_at, job_id, event_time, body) VALUES (:seq, :id, '', "
                ":kind, :type, :action, :profile, :run, 's', 0, 'job', 0, '{}')"),
                {"seq": seq, "id": row["event_id"], "kind": row["kind"], "type": row["type"],
                 "action": row["action"], "profile": row["profile"], "run": row["run_id"]})
    before, schema_before = _raw(engine), events_ddl(engine)
    assert all(isinstance(value, str | None) for row in before for value in row[1:])
    upgrade(engine, "0029")
    after = _raw(engine)
    assert [row[0] for row in after] == seqs
    assert sum(isinstance(value, bytes) for row in after for value in row[1:]) == (
        sum(value in CODES for row in rows for value in
            (row["kind"], row["type"], row["action"], row["profile"]))
        + sum(row["run_id"] == RUN for row in rows))
    assert events_ddl(engine) == schema_before  # the same table and every index, copied
    with engine.connect() as conn:
        # (Read as 0029 stored it: the column holds the interned text's id since 0031.)
        read = conn.execute(sa.select(events.c.kind, events.c.type, events.c.action,
                                      events.c.profile, sa.type_coerce(events.c.run_id,
                                                                       UuidText(64)))
                            .order_by(events.c.seq)).all()
        assert conn.execute(sa.select(sa.func.count()).select_from(events).where(
            *event_conditions(event_type="TimeSpentEvent"))).scalar_one() == len(RUN_IDS)
    assert [tuple(row) for row in read] == [
        (r["kind"], r["type"], r["action"], r["profile"], r["run_id"]) for r in rows]
    downgrade(engine, "0028")
    assert _raw(engine) == before
    assert events_ddl(engine) == schema_before


def test_the_platform_s_readers_see_run_ids_and_types_as_sent(backend: Backend,
                                                             tmp_path: Path) -> None:
    """Over HTTP: GET /caliper/events?runId=&type=, the explorer's filters, export, and the
    projector's run (it parses the body), before and after compaction."""
    start = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    activity = ActivityRef(url="https://app.example.edu/activities/q1", name="Quiz 1",
                           subject="Math", app_name="App", course_id="math", course_name="Math")
    runs = [RUN, str(uuid.UUID(int=7))]
    actor = Learner("ada@example.edu", "ada").actor("https://sis.example.edu")
    sent = [heartbeat(actor=actor, activity=activity,
                      run_id=runs[n % 2], started_at=start + timedelta(seconds=30 * n),
                      ended_at=start + timedelta(seconds=30 * n + 30), active_ms=30_000,
                      inactive_ms=0) for n in range(6)]
    with PlatformProcess(tmp_path / "platform", db_url=backend.new_db_url()) as platform:
        reply = platform.send(envelope("https://app.example.edu", sent, start))
        assert reply.status_code == 200, reply.text

        def reads() -> dict[str, Any]:
            with platform.http() as client:
                listed = {run: [item["eventId"] for item in client.get(
                    "/caliper/events", params={"runId": f"urn:uuid:{run.upper()}",
                                               "type": "TimeSpentEvent"}).json()["events"]]
                    for run in runs}
                explored = {run: [item["eventId"] for item in client.get(
                    "/data/events", params={"run": run, "type": "TimeSpentEvent"}
                ).json()["events"]] for run in runs}
                shown = {item["eventId"]: (item["type"], item["action"], item["profile"],
                                           item["runId"])
                         for item in client.get("/caliper/events").json()["events"]}
            exported = platform.cli("export", "--type", "TimeSpentEvent").stdout
            return {"listed": listed, "explored": explored, "shown": shown,
                    "exported": [json.loads(line) for line in exported.splitlines()],
                    "runs": {run: platform.get(f"/api/v1/runs/{run}")["run_id"]
                             for run in runs}}

        before = reads()
        platform.cli("compact")
        after = reads()
    expected = {run: [item["id"] for item in reversed(sent) if item["extensions"]["runId"]
                      == run] for run in runs}
    assert before["listed"] == before["explored"] == expected
    assert before["shown"] == {item["id"]: ("TimeSpentEvent", "SpentTime", "TimebackProfile",
                                            item["extensions"]["runId"]) for item in sent}
    assert before["exported"] == sent
    assert before["runs"] == {run: run for run in runs}
    assert after == before
