"""`events.sensor`, `actor_id` and `learner_email` interned on SQLite (migration 0030): the row
holds the id of the text's `interned_texts` row. Every reader sees the text; the learner filter
still walks its index; an id is remembered only once the transaction that made it committed, in
one process or several; the migration converts stored rows up and down."""

from __future__ import annotations

import json
import multiprocessing
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
from timeledger.server.queries.event_log import events_by_id, log_page, stored_event_json
from timeledger.server.store import interned_texts
from timeledger.server.store.compaction import CompactionPolicy, compact_events
from timeledger.server.store.database import create_engine, writer_turn
from timeledger.server.store.event_appends import append_rows
from timeledger.server.store.event_bodies import BODY_COLUMNS, event_body
from timeledger.server.store.event_selection import event_conditions
from timeledger.server.store.migrate import downgrade, upgrade
from timeledger.server.store.schema import events

RECEIVED = datetime(2025, 3, 3, 8, 0, 30, tzinfo=UTC)
SENSORS = ["https://a.example.edu", "https://b.example.edu"]
# (actor id, email): an actor without an email, and an event without an actor.
ACTORS: list[tuple[str | None, str | None]] = [
    ("https://sis.example.edu/users/ada", "ada@example.edu"),
    ("https://sis.example.edu/users/bob", "bob@example.edu"),
    ("https://sis.example.edu/users/ada-2", "ada@example.edu"),  # one learner, two actor ids
    ("urn:x:anonymous", None),
    (None, None)]


def _row(n: int, actor_id: str | None, email: str | None, sensor: str) -> dict[str, Any]:
    event_id = f"urn:uuid:{uuid.UUID(int=n + 1)}"
    actor = {key: value for key, value in (("id", actor_id), ("email", email)) if value}
    body = json.dumps({"id": event_id, "type": "Event", **({"actor": actor} if actor else {})},
                      separators=(",", ":"))
    return {"event_id": event_id, "body_hash": "", "kind": "event", "type": "Event",
            "action": "Used", "profile": None, "actor_id": actor_id, "learner_email": email,
            "run_id": None, "event_time": RECEIVED, "sensor": sensor, "received_at": RECEIVED,
            "job_id": "job", "body": body, "partition": None}


def _rows() -> list[dict[str, Any]]:
    return [_row(n, actor_id, email, SENSORS[n % 2])
            for n, (actor_id, email) in enumerate(ACTORS * 3)]


def _texts(row: Any) -> tuple[Any, Any, Any]:
    return row["actor_id"], row["learner_email"], row["sensor"]


def _raw(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(
            "SELECT seq, actor_id, learner_email, sensor FROM events ORDER BY seq")]


def _interned(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT id, value FROM interned_texts").all())


@pytest.fixture
def stored(backend: Backend, engine: Engine) -> Iterator[tuple[Engine, list[dict[str, Any]]]]:
    upgrade(engine)
    rows = _rows()
    with engine.begin() as conn:
        written, _ = append_rows(conn, rows)  # the request path's append
    assert len(written) == len(rows)
    yield engine, rows


def test_sqlite_keeps_each_text_once_and_the_row_its_id(
        stored: tuple[Engine, list[dict[str, Any]]]) -> None:
    engine, rows = stored
    raw = _raw(engine)
    if engine.dialect.name != "sqlite":  # PostgreSQL keeps the text, and the table stays empty
        assert [row[1:] for row in raw] == [_texts(r) for r in rows]
        assert _interned(engine) == {}
        return
    texts = _interned(engine)
    assert sorted(texts.values()) == sorted({t for r in rows for t in _texts(r) if t})
    for given, kept in zip(rows, raw, strict=True):
        assert [None if value is None else texts[value] for value in kept[1:]] == list(
            _texts(given))
        assert all(isinstance(value, int | None) for value in kept[1:])


def test_every_reader_sees_the_texts_as_given(
        stored: tuple[Engine, list[dict[str, Any]]]) -> None:
    engine, rows = stored
    ids = [r["event_id"] for r in rows]
    with engine.connect() as conn:
        read = conn.execute(sa.select(events).order_by(events.c.seq)).all()
        shown = [stored_event_json(conn, row) for row in read]
        by_id = events_by_id(conn, ids)
        bodies = [event_body(conn, row) for row in conn.execute(
            sa.select(*BODY_COLUMNS).order_by(events.c.seq))]

        def selected(learner: str) -> list[str]:
            return list(conn.execute(sa.select(events.c.event_id).where(
                *event_conditions(learner=learner)).order_by(events.c.seq)).scalars())

        def paged(learner: str) -> list[str]:
            return [item.json["eventId"] for item in reversed(
                log_page(conn, learner=learner, limit=100).events)]

        for actor_id, email in ACTORS:
            if email:  # by email, in any case
                expected = [r["event_id"] for r in rows if r["learner_email"] == email]
                assert selected(email.upper()) == paged(email) == expected
            if actor_id:
                expected = [r["event_id"] for r in rows if r["actor_id"] == actor_id]
                assert selected(actor_id) == paged(actor_id) == expected
        assert selected("nobody@example.edu") == selected("https://nobody.example") == []
        _, again = append_rows(conn, rows)  # the append's dedupe lookup finds each
        assert sorted(again) == sorted(ids)
    assert [_texts(row._mapping) for row in read] == [_texts(r) for r in rows]
    assert [(item["actorId"], item["learner"], item["sensor"]) for item in shown] == [
        _texts(r) for r in rows]
    assert {event_id: (item["actorId"], item["learner"], item["sensor"])
            for event_id, item in by_id.items()} == {r["event_id"]: _texts(r) for r in rows}
    assert bodies == [r["body"] for r in rows]


@pytest.mark.backends("sqlite")
def test_the_learner_filter_still_walks_its_index(
        stored: tuple[Engine, list[dict[str, Any]]]) -> None:
    engine, _ = stored
    with engine.begin() as conn:  # enough rows that a scan would cost more than the index
        more = [{**row, "event_id": f"urn:uuid:{uuid.uuid4()}"} for row in _rows() * 40]
        append_rows(conn, more)
        conn.exec_driver_sql("ANALYZE")
    plans = plans_of_statements_holding(
        engine, lambda conn: log_page(conn, learner="ada@example.edu", limit=50),
        "events.learner_email =")
    assert all("USING INDEX ix_events_learner_seq (learner_email=?" in plan
               for plan in plans), plans
    with engine.connect() as conn:  # the id the filter binds finds the rows the index holds
        assert len(log_page(conn, learner="ada@example.edu", limit=1000).events) == 41 * 6


@pytest.mark.backends("sqlite")
def test_core_writes_of_an_interned_column_are_refused_on_sqlite(
        stored: tuple[Engine, list[dict[str, Any]]]) -> None:
    engine, rows = stored
    with pytest.raises(sa.exc.CompileError, match="append_rows"), engine.begin() as conn:
        conn.execute(events.insert().values({**rows[0], "event_id": "urn:x:by-hand"}))
    with pytest.raises(sa.exc.CompileError, match="append_rows"), engine.begin() as conn:
        conn.execute(events.update().where(events.c.seq == 1).values(sensor=SENSORS[1]))
    with engine.connect() as conn:
        first = conn.execute(sa.select(events).where(events.c.seq == 1)).one()
    assert _texts(first._mapping) == _texts(rows[0])
    with engine.begin() as conn:  # a text written by hand with SQL reads back as itself
        conn.exec_driver_sql("UPDATE events SET sensor = 'https://by-hand.example' WHERE seq = 1")
        assert conn.execute(sa.select(events.c.sensor).where(events.c.seq == 1)).scalar_one() == (
            "https://by-hand.example")


class _RolledBack(Exception):
    pass


@pytest.mark.backends("sqlite")
def test_an_id_made_by_a_transaction_that_rolled_back_is_not_used_again(
        backend: Backend, engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        append_rows(conn, [_row(0, None, None, SENSORS[0])])
        connection = conn.connection.dbapi_connection
    with pytest.raises(_RolledBack), engine.begin() as conn:
        assert conn.connection.dbapi_connection is connection  # the same connection
        append_rows(conn, [_row(1, "https://sis.example.edu/users/gone", "gone@example.edu",
                                SENSORS[0])])
        made: dict[int, str] = dict(
            conn.exec_driver_sql("SELECT id, value FROM interned_texts").all())
        raise _RolledBack  # the rollback takes its new rows with it
    assert "gone@example.edu" in made.values()
    assert _interned(engine) == {1: SENSORS[0]}
    with engine.begin() as conn:
        assert conn.connection.dbapi_connection is connection
        # Other texts first: SQLite hands them the ids the rolled-back rows had.
        append_rows(conn, [_row(2, "https://sis.example.edu/users/new", "new@example.edu",
                                SENSORS[1])])
        append_rows(conn, [_row(3, "https://sis.example.edu/users/gone", "gone@example.edu",
                                SENSORS[0])])
    after = _interned(engine)
    assert {after[key] for key in made if key != 1}.isdisjoint(
        {"gone@example.edu", "https://sis.example.edu/users/gone"})  # the ids went to others
    with engine.connect() as conn:
        read = conn.execute(sa.select(events).order_by(events.c.seq)).all()
    assert [_texts(row._mapping) for row in read] == [
        (None, None, SENSORS[0]),
        ("https://sis.example.edu/users/new", "new@example.edu", SENSORS[1]),
        ("https://sis.example.edu/users/gone", "gone@example.edu", SENSORS[0])]


@pytest.mark.backends("sqlite")
def test_a_connection_forgets_its_ids_past_the_bound(
        backend: Backend, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade(engine)
    monkeypatch.setattr(interned_texts, "REMEMBERED_TEXTS", 4)
    sizes = []
    for n in range(6):  # learner n is new; learner n - 1's texts are remembered from now on
        with engine.begin() as conn:
            append_rows(conn, [_row(2 * n + k, f"https://sis.example.edu/users/{learner}",
                                    f"l{learner}@example.edu", SENSORS[0])
                               for k, learner in enumerate({max(n - 1, 0), n})])
            sizes.append(len(interned_texts.text_ids(conn, [])))
    # At most the bound and one transaction's texts (None, the sensor, two learners' texts);
    # remembering all would hold 13 by the last.
    assert max(sizes) <= 4 + 6, sizes
    with engine.connect() as conn:
        read = conn.execute(sa.select(events).order_by(events.c.seq)).all()
    assert [row.learner_email for row in read] == [
        f"l{learner}@example.edu" for n in range(6) for learner in {max(n - 1, 0), n}]
    assert all(row.actor_id == f"https://sis.example.edu/users/{row.learner_email[:-12]}"
               .replace("/l", "/") for row in read)


def _texts_of(event_id: str) -> tuple[str, str, str]:
    """What the writers below send under `urn:x:<worker>:<n>`: pairs of transactions (the first
    rolled back) send the same new texts, and every third text is shared by both workers."""
    _, _, worker, n = event_id.split(":")
    pair = int(n) // 2
    email = f"w{worker}-{pair}@example.edu" if pair % 3 else f"shared-{pair}@example.edu"
    return f"https://sis.example.edu/users/{email}", email, SENSORS[pair % 2]


def _write(url: str, worker: int, transactions: int) -> None:
    """A writer process: transactions of one event each, every other one rolled back."""
    engine = create_engine(url)
    try:
        for n in range(transactions):
            event_id = f"urn:x:{worker}:{n}"
            actor_id, email, sensor = _texts_of(event_id)
            row = {**_row(n, actor_id, email, sensor), "event_id": event_id}
            try:
                with writer_turn(engine), engine.begin() as conn:
                    append_rows(conn, [row])
                    if n % 2 == 0:
                        raise _RolledBack
            except _RolledBack:
                pass
    finally:
        engine.dispose()


@pytest.mark.backends("sqlite")
def test_processes_appending_to_one_file_get_the_same_ids(backend: Backend,
                                                          engine: Engine) -> None:
    upgrade(engine)
    transactions = 120
    spawn = multiprocessing.get_context("spawn")
    writers = [spawn.Process(target=_write, args=(str(engine.url), worker, transactions))
               for worker in (1, 2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
        assert writer.exitcode == 0
    with engine.connect() as conn:
        read = conn.execute(sa.select(events).order_by(events.c.seq)).all()
    assert sorted(row.event_id for row in read) == sorted(
        f"urn:x:{worker}:{n}" for worker in (1, 2) for n in range(1, transactions, 2))
    assert all(_texts(row._mapping) == _texts_of(row.event_id) for row in read)
    texts = list(_interned(engine).values())
    assert len(texts) == len(set(texts))  # each text once


@pytest.mark.backends("sqlite")
def test_compaction_takes_the_actor_out_of_bodies_and_puts_it_back(
        stored: tuple[Engine, list[dict[str, Any]]]) -> None:
    engine, _ = stored
    with engine.begin() as conn:
        more = [{**row, "event_id": new_id, "body": row["body"].replace(row["event_id"], new_id)}
                for n, row in enumerate(_rows() * 4)
                for new_id in [f"urn:uuid:{uuid.UUID(int=1000 + n)}"]]
        append_rows(conn, more)
        texts = {row.seq: event_body(conn, row)
                 for row in conn.execute(sa.select(events.c.seq, *BODY_COLUMNS))}
    policy = CompactionPolicy(first_training_events=10, training_samples=100,
                              dictionary_bytes=1024)
    with engine.begin() as conn:
        compact_events(conn, max(texts), 1000, policy)
        read = {row.seq: (event_body(conn, row), row.packed)
                for row in conn.execute(sa.select(events.c.seq, *BODY_COLUMNS))}
    assert {seq: text for seq, (text, _) in read.items()} == texts
    with_email = [packed for text, packed in read.values() if '"email"' in text]
    assert with_email and all(packed[0] == 0x01 and packed[1] & 0b1100 == 0b1100
                              for packed in with_email)  # actor id and email taken out


@pytest.mark.backends("sqlite")  # PostgreSQL keeps its text
def test_stored_texts_become_ids_through_the_upgrade_and_texts_again_down(
        backend: Backend, engine: Engine) -> None:
    upgrade(engine, "0029")
    rows = _rows()
    seqs = [1, 2, 15_000, 30_001, *range(30_002, 30_002 + len(rows) - 4)]
    with engine.begin() as conn:
        for seq, row in zip(seqs, rows, strict=True):
            conn.execute(sa.text(
                "INSERT INTO events (seq, event_id, body_hash, kind, type, actor_id, "
                "learner_email, sensor, received_at, job_id, event_time, body) VALUES (:seq, "
                ":id, '', 'event', 'Event', :actor, :email, :sensor, 0, 'job', 0, '{}')"),
                {"seq": seq, "id": row["event_id"], "actor": row["actor_id"],
                 "email": row["learner_email"], "sensor": row["sensor"]})
    before, schema_before = _raw(engine), events_ddl(engine)
    assert [row[1:] for row in before] == [_texts(r) for r in rows]
    upgrade(engine)
    after, texts = _raw(engine), _interned(engine)
    assert [row[0] for row in after] == seqs
    assert [tuple(None if value is None else texts[value] for value in row[1:])
            for row in after] == [_texts(r) for r in rows]
    assert sorted(texts.values()) == sorted({t for r in rows for t in _texts(r) if t})
    assert {texts[1], texts[2]} == set(SENSORS)  # sensors first: the smallest ids
    schema_after = events_ddl(engine)
    assert {name: sql for name, sql in schema_after.items() if name != "events"} == {
        name: sql for name, sql in schema_before.items() if name != "events"}
    assert all(f"\t{name} INTEGER" in str(schema_after["events"])
               for name in ("actor_id", "learner_email", "sensor"))
    with engine.connect() as conn:
        read = conn.execute(sa.select(events).order_by(events.c.seq)).all()
        assert len(log_page(conn, learner="ada@example.edu", limit=100).events) == 6
    assert [_texts(row._mapping) for row in read] == [_texts(r) for r in rows]
    with engine.begin() as conn:  # the append goes on with the ids the migration gave
        append_rows(conn, [_row(99, *ACTORS[0], SENSORS[0])])
    assert _raw(engine)[-1][1:] == after[0][1:]
    with engine.begin() as conn:
        conn.execute(events.delete().where(events.c.seq > seqs[-1]))
    downgrade(engine, "0029")
    assert _raw(engine) == before
    assert events_ddl(engine) == schema_before
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("interned_texts")


def test_the_platform_s_readers_see_sensors_and_learners_as_sent(backend: Backend,
                                                                tmp_path: Path) -> None:
    """Over HTTP: GET /caliper/events (learner by email and by actor id) and /{id}, the
    explorer's learner filter, export, a job's status, before and after compaction."""
    start = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    activity = ActivityRef(url="https://app.example.edu/activities/q1", name="Quiz 1",
                           subject="Math", app_name="App", course_id="math", course_name="Math")
    actors = [Learner(f"{name}@example.edu", name).actor("https://sis.example.edu")
              for name in ("ada", "bob")]
    sent = [heartbeat(actor=actors[n % 2], activity=activity, run_id=str(uuid.UUID(int=n % 2)),
                      started_at=start + timedelta(seconds=30 * n),
                      ended_at=start + timedelta(seconds=30 * n + 30), active_ms=30_000,
                      inactive_ms=0) for n in range(6)]
    sensor_of = {item["id"]: SENSORS[n // 3] for n, item in enumerate(sent)}
    with PlatformProcess(tmp_path / "platform", db_url=backend.new_db_url()) as platform:
        jobs = []
        for sensor, items in ((SENSORS[0], sent[:3]), (SENSORS[1], sent[3:])):
            reply = platform.send(envelope(sensor, items, start))
            assert reply.status_code == 200, reply.text
            jobs.append(reply.json()["jobId"])

        def reads() -> dict[str, Any]:
            with platform.http() as client:
                shown = {item["eventId"]: (item["actorId"], item["learner"], item["sensor"])
                         for item in client.get("/caliper/events").json()["events"]}
                one = client.get(f"/caliper/events/{sent[4]['id']}").json()
                listed = {who: [item["eventId"] for item in client.get(
                    "/caliper/events", params={"learner": who}).json()["events"]]
                    for who in ("ADA@example.edu", actors[1]["id"])}
                explored = [item["eventId"] for item in client.get(
                    "/data/events", params={"learner": "bob@example.edu"}).json()["events"]]
                statuses = [client.get(f"/jobs/{job}/status").json()["job"] for job in jobs]
            exported = platform.cli("export", "--learner", "ada@example.edu").stdout
            return {"shown": shown, "one": (one["sensor"], one["actorId"], one["event"]),
                    "listed": listed, "explored": explored, "statuses": statuses,
                    "exported": [json.loads(line) for line in exported.splitlines()]}

        before = reads()
        platform.cli("compact")
        after = reads()
    assert before["shown"] == {item["id"]: (item["actor"]["id"], item["actor"]["email"],
                                            sensor_of[item["id"]]) for item in sent}
    assert before["one"] == (SENSORS[1], actors[0]["id"], sent[4])
    newest_first = list(reversed(sent))
    assert before["listed"] == {
        "ADA@example.edu": [item["id"] for item in newest_first if item["actor"] == actors[0]],
        actors[1]["id"]: [item["id"] for item in newest_first if item["actor"] == actors[1]]}
    assert before["explored"] == before["listed"][actors[1]["id"]]
    assert [[result["externalId"] for result in status["returnValue"]["results"]]
            for status in before["statuses"]] == [[item["id"] for item in sent[:3]],
                                                  [item["id"] for item in sent[3:]]]
    assert before["exported"] == [item for item in sent if item["actor"] == actors[0]]
    assert after == before


@pytest.mark.backends("sqlite")
def test_an_append_on_a_fresh_connection_begins_its_transaction(backend: Backend,
                                                                engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        append_rows(conn, [_row(0, *ACTORS[0], SENSORS[0])])
        conn.commit()
        with pytest.raises(RuntimeError, match="savepoint"), conn.begin_nested():
            append_rows(conn, [_row(1, *ACTORS[1], SENSORS[0])])
        conn.rollback()
    with engine.connect() as conn:
        read = conn.execute(sa.select(events)).all()
    assert [_texts(row._mapping) for row in read] == [(*ACTORS[0], SENSORS[0])]
