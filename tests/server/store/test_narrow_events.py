"""The events row is narrow on SQLite: its times as integer microseconds (migration 0026), its
`urn:uuid` ids as 16 bytes (0028). Every reader still sees aware datetimes and the ids' text;
rows stored before keep their values, up and down."""

from __future__ import annotations

import calendar
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.support.events_ddl import events_ddl
from timeledger.server.queries.event_log import events_by_id, stored_event_json
from timeledger.server.store.compact_keys import uuid_bytes, uuid_text
from timeledger.server.store.event_appends import APPENDED_COLUMNS, append_rows
from timeledger.server.store.event_selection import event_conditions
from timeledger.server.store.job_result_rows import encode_results, read_results
from timeledger.server.store.migrate import downgrade, upgrade
from timeledger.server.store.schema import events

RECEIVED = datetime(2025, 3, 3, 8, 0, 30, 654321, tzinfo=UTC)
# eventTimes on both sides of 1970, with and without microseconds, and one event without any.
MOMENTS = [
    datetime(2025, 3, 3, 8, 0, 15, tzinfo=UTC), datetime(2025, 3, 3, 8, 0, 15, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 500001, tzinfo=UTC),
    datetime(2100, 1, 1, 0, 0, 0, 999999, tzinfo=UTC)]
TIMES: list[datetime | None] = [*MOMENTS, None]


def _microseconds(at: datetime) -> int:
    """Computed another way than the store does (calendar.timegm over the UTC fields)."""
    return calendar.timegm(at.utctimetuple()) * 1_000_000 + at.microsecond


def _row(n: int, event_time: datetime | None) -> dict[str, Any]:
    event_id = f"urn:uuid:{uuid.UUID(int=n + 1)}"
    body = f'{{"id":"{event_id}","type":"Event"}}'
    return {"event_id": event_id, "body_hash": f"h{n}", "kind": "event", "type": "Event",
            "action": "Used", "profile": None, "actor_id": None, "learner_email": None,
            "run_id": None, "event_time": event_time, "sensor": "https://s.example.edu",
            "received_at": RECEIVED + timedelta(microseconds=n), "job_id": "job", "body": body,
            "partition": None}


def _raw(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT seq, event_id, event_time, received_at FROM events ORDER BY seq"))]


def test_times_are_integers_on_sqlite_and_every_reader_sees_datetimes(backend: object,
                                                                      engine: Engine) -> None:
    upgrade(engine)
    rows = [_row(n, at) for n, at in enumerate(TIMES)]
    assert set(rows[0]) == set(APPENDED_COLUMNS)
    with engine.begin() as conn:
        written, existing = append_rows(conn, rows)  # the request path's append
    assert len(written) == len(rows) and not existing
    if engine.dialect.name == "sqlite":
        assert [row[2:] for row in _raw(engine)] == [
            (None if at is None else _microseconds(at), _microseconds(row["received_at"]))
            for at, row in zip(TIMES, rows, strict=True)]
    with engine.connect() as conn:
        read = conn.execute(sa.select(events).order_by(events.c.seq)).all()
        shown = [stored_event_json(conn, row) for row in read]

        def selected(since: datetime | None = None, until: datetime | None = None) -> list[str]:
            return list(conn.execute(sa.select(events.c.event_id).where(
                *event_conditions(since=since, until=until)).order_by(events.c.seq)).scalars())

        # [since, until): the bounds fall a microsecond apart, as the stored values do.
        assert selected(since=MOMENTS[1], until=MOMENTS[3]) == [rows[1]["event_id"]]
        assert selected(since=MOMENTS[0] + timedelta(microseconds=1)) == [
            rows[1]["event_id"], rows[3]["event_id"]]
        assert selected(until=MOMENTS[0]) == [rows[2]["event_id"]]
        # Appending the same ids again finds them all (the dedupe lookup reads them back).
        _, again = append_rows(conn, rows)
        assert sorted(again) == sorted(row["event_id"] for row in rows)
    assert [(row.event_time, row.received_at) for row in read] == [
        (at, row["received_at"]) for at, row in zip(TIMES, rows, strict=True)]
    assert all(row.received_at.tzinfo is UTC for row in read)
    assert [(item["eventTime"], item["receivedAt"]) for item in shown] == [
        ("2025-03-03T08:00:15.000Z", "2025-03-03T08:00:30.654Z"),
        ("2025-03-03T08:00:15.000Z", "2025-03-03T08:00:30.654Z"),
        ("1969-12-31T23:59:59.500Z", "2025-03-03T08:00:30.654Z"),
        ("2100-01-01T00:00:00.999Z", "2025-03-03T08:00:30.654Z"),
        (None, "2025-03-03T08:00:30.654Z")]


# As UtcDateTime stored them on SQLite before 0026: naive UTC text with microseconds.
TEXTS = [("2025-03-03 08:00:15.000000", "2025-03-03 08:00:30.654321"),
         ("1969-12-31 23:59:59.500001", "2025-03-03 08:00:30.000000"),
         (None, "2100-01-01 00:00:00.999999"),
         ("0999-01-01 00:00:00.000001", "2025-03-03 08:00:31.000000")]
SEQS = [1, 2, 15_000, 30_001]  # over several of the migration's batches, with gaps


def _insert_before(engine: Engine) -> None:
    with engine.begin() as conn:
        for seq, (event_time, received_at) in zip(SEQS, TEXTS, strict=True):
            conn.execute(sa.text(
                "INSERT INTO events (seq, event_id, body_hash, kind, type, sensor, received_at, "
                "job_id, event_time, body) VALUES (:seq, :id, 'h', 'event', 'Event', 's', "
                ":received, 'job', :time, '{}')"),
                {"seq": seq, "id": f"e{seq}", "time": event_time, "received": received_at})


@pytest.mark.backends("sqlite")  # PostgreSQL keeps timestamptz (8 bytes there already)
def test_stored_times_become_integers_through_the_upgrade_and_text_again_down(
        backend: object, engine: Engine) -> None:
    upgrade(engine, "0025")
    _insert_before(engine)
    before, schema_before = _raw(engine), events_ddl(engine)
    upgrade(engine)
    expected = [tuple(None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)
                      for text in pair) for pair in TEXTS]
    assert [row[2:] for row in _raw(engine)] == [
        tuple(None if at is None else _microseconds(at) for at in pair) for pair in expected]
    with engine.connect() as conn:
        read = conn.execute(sa.select(events.c.seq, events.c.event_time, events.c.received_at)
                            .order_by(events.c.seq)).all()
    assert [tuple(row) for row in read] == [(seq, *pair) for seq, pair in zip(SEQS, expected,
                                                                             strict=True)]
    after = events_ddl(engine)
    assert {name for name in after} == {name for name in schema_before}  # every index is back
    assert {name: sql for name, sql in after.items() if name != "events"} == {
        name: sql for name, sql in schema_before.items() if name != "events"}
    assert "event_time BIGINT" in str(after["events"])
    with engine.begin() as conn:  # the next row still goes after the last one
        written, _ = append_rows(conn, [_row(7, MOMENTS[0])])
    assert [position.seq for position in written.values()] == [SEQS[-1] + 1]
    with engine.begin() as conn:
        conn.execute(events.delete().where(events.c.seq > SEQS[-1]))
    downgrade(engine, "0025")
    assert _raw(engine) == before
    assert events_ddl(engine) == schema_before


# An id is stored as 16 bytes only in the canonical `urn:uuid:` form, which reads back as is.
IDS = {"urn:uuid:cd209b87-6fe6-4016-8976-85ef8ce45b38": bytes,
       "urn:uuid:CD209B87-6FE6-4016-8976-85EF8CE45B38": str,
       "cd209b87-6fe6-4016-8976-85ef8ce45b38": str,
       "urn:uuid:cd209b876fe64016897685ef8ce45b38": str,
       "https://example.edu/events/1": str,
       "urn:timeledger:anonymous:0123abcd": str}


def test_event_ids_are_16_bytes_on_sqlite_and_every_reader_sees_the_text(backend: object,
                                                                         engine: Engine) -> None:
    upgrade(engine)
    rows = [{**_row(n, MOMENTS[0]), "event_id": event_id} for n, event_id in enumerate(IDS)]
    with engine.begin() as conn:
        written, _ = append_rows(conn, rows)
    seqs = {event_id: position.seq for event_id, position in written.items()}
    assert list(seqs) == list(IDS)
    if engine.dialect.name == "sqlite":
        stored = {seq: event_id for seq, event_id, *_ in _raw(engine)}
        assert [type(stored[seqs[event_id]]) for event_id in IDS] == list(IDS.values())
        assert stored[seqs[next(iter(IDS))]] == bytes.fromhex("cd209b876fe64016897685ef8ce45b38")
    with engine.begin() as conn:
        read = dict(conn.execute(sa.select(events.c.seq, events.c.event_id)).all())
        by_id = {event_id: conn.execute(sa.select(events.c.seq).where(
            events.c.event_id == event_id)).scalar_one() for event_id in IDS}  # GET by id
        listed = events_by_id(conn, [*IDS, "urn:uuid:00000000-0000-4000-8000-000000000000"])
        # The same ids again: each found stored (the append's IN lookup), none inserted.
        again, existing = append_rows(conn, rows)
        # A job's results name events by seq and read their ids back.
        results = read_results(conn, encode_results([
            {"allocatedId": str(seqs[event_id]), "externalId": event_id, "status": "stored",
             "message": ""} for event_id in IDS]))
    assert {seq: read[seq] for seq in seqs.values()} == {seq: i for i, seq in seqs.items()}
    assert by_id == seqs
    assert {event_id: item["eventId"] for event_id, item in listed.items()} == {
        event_id: event_id for event_id in IDS}
    assert again == {} and {event_id: seq for event_id, (seq, _) in existing.items()} == seqs
    assert [result["externalId"] for result in results] == list(IDS)


@pytest.mark.backends("sqlite")  # PostgreSQL keeps its text
def test_stored_event_ids_become_bytes_through_the_upgrade_and_text_again_down(
        backend: object, engine: Engine) -> None:
    upgrade(engine, "0027")
    with engine.begin() as conn:
        for seq, event_id in zip([1, 2, 15_000, 30_001, 30_002, 30_003], IDS, strict=True):
            conn.execute(sa.text(
                "INSERT INTO events (seq, event_id, body_hash, kind, type, sensor, received_at, "
                "job_id, event_time, body) VALUES (:seq, :id, 'h', 'event', 'Event', 's', 0, "
                "'job', 0, '{}')"), {"seq": seq, "id": event_id})
    before, schema_before = _raw(engine), events_ddl(engine)
    upgrade(engine, "0028")
    assert [type(row[1]) for row in _raw(engine)] == list(IDS.values())
    assert [row[0] for row in _raw(engine)] == [row[0] for row in before]
    assert events_ddl(engine) == schema_before  # the same table and every index, copied
    with engine.connect() as conn:
        read = conn.execute(sa.select(events.c.event_id).order_by(events.c.seq)).scalars().all()
    assert read == list(IDS)
    # The unique index holds the converted ids.
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO events (event_id, body_hash, kind, type, sensor, received_at, job_id, "
            "body) VALUES (:id, 'h', 'event', 'Event', 's', 0, 'job', '{}')"),
            {"id": uuid_bytes(read[0], "urn:uuid:")})
    downgrade(engine, "0027")
    assert _raw(engine) == before
    assert events_ddl(engine) == schema_before


UUID = "cd209b87-6fe6-4016-8976-85ef8ce45b38"
NOT_CANONICAL = [UUID.upper(), UUID.replace("-", ""), "{" + UUID[1:-1] + "}",
                 UUID[:9] + " " + UUID[10:], UUID[:20] + "--" + UUID[22:],
                 UUID[:30] + "--" + UUID[32:], " " + UUID[1:],
                 UUID[:-1] + "g", UUID[:-1] + "\n", UUID.replace("-", "+"), UUID + "0", UUID[:-1]]


@pytest.mark.parametrize("text", NOT_CANONICAL)
def test_only_a_canonical_uuid_is_stored_as_bytes(text: str) -> None:
    assert uuid_bytes(f"urn:uuid:{text}", "urn:uuid:") == f"urn:uuid:{text}"
    assert uuid_bytes(text) == text


def test_a_canonical_uuid_is_its_16_bytes_and_reads_back_as_written() -> None:
    made_ones = [uuid.UUID(UUID), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1),
                 *(uuid.uuid4() for _ in range(1000))]
    for made in made_ones:
        assert uuid_bytes(f"urn:uuid:{made}", "urn:uuid:") == bytearray(made.bytes)
        assert uuid_bytes(str(made)) == bytearray(made.bytes)
        assert uuid_text(made.bytes) == str(made)
    with pytest.raises(ValueError, match="16 bytes"):
        uuid_text(bytes(15))
    assert uuid_bytes(f"urn:uuid:{UUID}") == f"urn:uuid:{UUID}"  # no prefix expected: as is
