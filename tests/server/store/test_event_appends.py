"""The append's driver-level writes on each backend: rows in their order, the first of equal ids
stored, NULLs and times kept, job rows as given; on PostgreSQL an over-long value refused whole."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.server.store.compact_keys import uuid_bytes
from timeledger.server.store.driver_rows import driver_params
from timeledger.server.store.event_appends import (
    _EVENT_ID_PREFIX,
    APPENDED_COLUMNS,
    INTERNED_COLUMNS,
    JOB_COLUMNS,
    _row_values,
    _stored_event_ids,
    append_jobs,
    append_rows,
    sqlite_params,
)
from timeledger.server.store.interned_texts import text_ids
from timeledger.server.store.migrate import upgrade
from timeledger.server.store.schema import events, jobs

RECEIVED = datetime(2025, 3, 3, 9, 30, 0, 123456, tzinfo=UTC)


@pytest.fixture
def store(engine: Engine) -> Iterator[Engine]:
    upgrade(engine)
    yield engine


def _row(event_id: str, body: str = "{}", *, partition: int | None = 3,
         event_time: datetime | None = RECEIVED - timedelta(minutes=5)) -> dict[str, Any]:
    return {"event_id": event_id, "body_hash": f"hash-of-{body}", "kind": "event",
            "type": "TimeSpentEvent", "action": "SpentTime" if partition is not None else None,
            "profile": None, "actor_id": "urn:learner", "learner_email": "a@example.edu",
            "run_id": "run-1", "event_time": event_time, "sensor": "https://s.example.com",
            "received_at": RECEIVED, "job_id": "job-1", "body": body, "partition": partition}


def _stored(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        found = conn.execute(sa.select(events).order_by(events.c.seq)).mappings().all()
    return [dict(row) for row in found]


def test_rows_are_stored_in_their_order_and_the_first_of_equal_ids_wins(store: Engine) -> None:
    ids = [f"urn:uuid:{n:04d}-{'b' if n % 2 else 'a'}" for n in (7, 3, 9, 1, 8, 2)]
    rows = [_row(event_id, body=f'{{"n":{n}}}') for n, event_id in enumerate(ids)]
    rows.insert(3, _row(ids[1], body='{"other":true}'))  # the same id again, another body
    with store.begin() as conn:
        written, existing = append_rows(conn, rows)

    stored = _stored(store)
    assert [row["event_id"] for row in stored] == ids  # seq follows the order given
    assert stored[1]["body"] == '{"n":1}' and stored[1]["body_hash"] == 'hash-of-{"n":1}'
    assert existing == {}
    assert {event_id: position.seq for event_id, position in written.items()} == {
        row["event_id"]: row["seq"] for row in stored}
    if store.dialect.name == "postgresql":  # every row records its (one) writing transaction
        assert len({position.xact for position in written.values()}) == 1
        assert {row["xact"] for row in stored} == {next(iter(written.values())).xact}


def test_a_second_append_reports_what_was_stored_before(store: Engine) -> None:
    with store.begin() as conn:
        append_rows(conn, [_row("urn:uuid:first", body='{"a":1}')])
    with store.begin() as conn:
        written, existing = append_rows(conn, [_row("urn:uuid:first", body='{"a":2}'),
                                               _row("urn:uuid:second")])
    stored = {row["event_id"]: row for row in _stored(store)}
    assert set(written) == {"urn:uuid:second"}
    assert existing == {"urn:uuid:first": (stored["urn:uuid:first"]["seq"], 'hash-of-{"a":1}')}
    assert stored["urn:uuid:first"]["body"] == '{"a":1}'


def test_nulls_and_times_are_stored_as_given(store: Engine) -> None:
    entity = _row("urn:entity", partition=None, event_time=None)
    entity.update(kind="entity", actor_id=None, learner_email=None, run_id=None)
    with store.begin() as conn:
        append_rows(conn, [entity])  # every nullable column NULL: arrays of NULL alone
        append_rows(conn, [_row("urn:event")])
    first, second = _stored(store)
    for name in ("action", "profile", "actor_id", "learner_email", "run_id", "event_time",
                 "partition"):
        assert first[name] is None, name
    assert second["event_time"] == RECEIVED - timedelta(minutes=5)
    assert second["received_at"] == RECEIVED and second["partition"] == 3


@pytest.mark.backends("pg")  # SQLite does not enforce a column's length
def test_an_over_long_value_is_refused_and_nothing_of_the_group_is_stored(store: Engine) -> None:
    kind = events.c.event_id.type  # UuidText: a String of its length on PostgreSQL
    assert isinstance(kind, sa.TypeDecorator) and isinstance(kind.impl_instance, sa.String)
    assert kind.impl_instance.length
    too_long = "urn:uuid:" + "x" * kind.impl_instance.length
    with pytest.raises(sa.exc.DBAPIError, match="too long"), store.begin() as conn:
        append_rows(conn, [_row("urn:uuid:fine"), _row(too_long)])
    assert _stored(store) == []  # not cut to the column's length, not half a group


def test_job_rows_are_stored_as_given(store: Engine) -> None:
    given: list[dict[str, Any]] = [{"id": "job-1", "client_id": "client-a", "state": "waiting",
              "created_at": RECEIVED, "processed_on": None, "results": "[]",
              "needs": '{"3":[7,12]}'},
             {"id": "job-2", "client_id": None, "state": "completed", "created_at": RECEIVED,
              "processed_on": RECEIVED + timedelta(seconds=1), "results": '[["s",1,2]]',
              "needs": None}]
    with store.begin() as conn:
        append_jobs(conn, given)
    with store.connect() as conn:
        found = conn.execute(sa.select(*(jobs.c[name] for name in JOB_COLUMNS))
                             .order_by(jobs.c.id)).mappings().all()
    assert [dict(row) for row in found] == given


def test_the_appended_columns_are_the_events_table_s() -> None:
    assert set(APPENDED_COLUMNS) == set(events.c.keys()) - {"seq", "xact", "packed"}


def test_a_group_of_new_rows_after_a_gap_gets_the_seqs_sqlite_gave_them(store: Engine) -> None:
    with store.begin() as conn:
        append_rows(conn, [_row(f"urn:uuid:{n:08d}-0000-4000-8000-000000000000")
                           for n in range(3)])
        conn.execute(sa.delete(events).where(events.c.seq == sa.select(sa.func.max(events.c.seq))
                                             .scalar_subquery()))  # the newest row gone
    new = [_row(f"urn:uuid:{n:08d}-0000-4000-8000-000000000000") for n in range(3, 8)]
    with store.begin() as conn:
        written, existing = append_rows(conn, [*new, _row("urn:event-without-uuid")])
    stored = {row["event_id"]: row["seq"] for row in _stored(store)}
    assert existing == {}
    assert {event_id: position.seq for event_id, position in written.items()} == {
        row["event_id"]: stored[row["event_id"]] for row in [*new, _row("urn:event-without-uuid")]}


@pytest.mark.backends("sqlite")
def test_the_sqlite_params_are_what_the_column_types_write(store: Engine) -> None:
    rows = [_row("urn:uuid:0a0b0c0d-0000-4000-8000-000000000001"),
            _row("urn:uuid:NOT-A-LOWER-CASE-UUID", partition=None, event_time=None),
            {**_row("urn:anything"), "kind": "entity", "type": "NotATerm", "action": None,
             "profile": "TimebackProfile", "actor_id": None, "learner_email": None,
             "run_id": None}]
    with store.begin() as conn:
        ids = text_ids(conn, [row[name] for row in rows for name in INTERNED_COLUMNS])
        fast = list(sqlite_params(list(zip(*(_row_values(row) for row in rows), strict=True)),
                                  ids))
        typed = driver_params(conn, rows, [name for name in APPENDED_COLUMNS
                                           if name not in INTERNED_COLUMNS], events)
    assert fast == [(*values, *(ids[row[name]] for name in INTERNED_COLUMNS))
                    for row, values in zip(rows, typed, strict=True)]


def test_event_ids_converted_together_are_what_uuid_bytes_gives_each() -> None:
    def ids(count: int) -> list[str]:
        return [f"{_EVENT_ID_PREFIX}{uuid.uuid4()}" for _ in range(count)]

    good = ids(3)
    text = good[0][len(_EVENT_ID_PREFIX):]  # the uuid's 36 characters
    groups = [
        good, good[:1], [],
        [*good, good[0].upper()],                        # upper case: kept as text
        [*good, _EVENT_ID_PREFIX + text.upper()],
        [*good, f"{_EVENT_ID_PREFIX}{text[:7]}-{text[7]}{text[9:]}"],  # a hyphen a place early
        [*good, "https://example.com/e/1"],              # not a uuid
        [*good, good[0][len(_EVENT_ID_PREFIX):] + "abcdefghi"],  # right length, no prefix
        [*good, good[0][:-14] + "-" + good[0][-13:]],    # a hyphen in a digit's place
        [*good, good[0][:-4] + "  " + good[0][-2:]],     # white space fromhex would skip
        [*good, good[0][:-2] + "zz"],                    # not hex
        [*good, f"{_EVENT_ID_PREFIX}{'0' * 8}-0000-0000-0000-{'0' * 10}--"],  # two in digits'
    ]
    for group in groups:
        converted = list(_stored_event_ids(group))
        expected = [uuid_bytes(event_id, _EVENT_ID_PREFIX) for event_id in group]
        assert converted == expected, group
        assert [type(value) for value in converted] == [type(value) for value in expected]
    assert all(isinstance(value, bytearray) for value in _stored_event_ids(good))
