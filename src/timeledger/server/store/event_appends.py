"""The request path's writes: event rows and their jobs appended through the driver, not Core
(store/driver_rows.py says why). SQLAlchemy still owns the schema and every query."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from timeledger.server.store.commit_order import WRITING_TRANSACTION
from timeledger.server.store.compact_keys import TERM_VALUES, UuidText, uuid_bytes
from timeledger.server.store.driver_rows import (
    UtcMicrosecondsMemo,
    column_arrays,
    driver_params,
    execute_many,
    execute_once,
    sql_marks,
    typed_arrays,
    unnest_rows,
)
from timeledger.server.store.event_bodies import (
    BODY_COLUMNS,
    DIGEST_NOT_STORED,
    content_digest,
    event_json,
)
from timeledger.server.store.interned_texts import text_ids
from timeledger.server.store.log_positions import Position
from timeledger.server.store.schema import events, jobs

#: The columns an appended row gives (the others default: seq, xact, packed).
APPENDED_COLUMNS = ("event_id", "body_hash", "kind", "type", "action", "profile", "actor_id",
                    "learner_email", "run_id", "event_time", "sensor", "received_at", "job_id",
                    "body", "partition")
#: The columns SQLite keeps as interned ids (store/interned_texts.py), last in its INSERT.
INTERNED_COLUMNS = ("actor_id", "learner_email", "run_id", "sensor")
_NOT_INTERNED = tuple(name for name in APPENDED_COLUMNS if name not in INTERNED_COLUMNS)
_row_values = operator.itemgetter(*APPENDED_COLUMNS)
#: The columns of a job row, all given by the append.
JOB_COLUMNS = ("id", "client_id", "state", "created_at", "processed_on", "results", "needs")
_IN_CHUNK = 500  # event ids per `IN (...)` lookup (SQLite allows 32,766 parameters)

Stored = tuple[int, str]  # seq, body_hash
#: An appended row: its values in `APPENDED_COLUMNS`' order, as readers see them (texts, aware
#: datetimes); the store's own forms are made here, per dialect.
AppendedRow = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Appended:
    """What an append wrote: the seq of each new event id (the first row of equal ids), all in
    one writing transaction (`xact`; 0 on SQLite, store/commit_order.py); and the seq and body
    hash of every id that was already stored."""

    xact: int
    seqs: dict[str, int]
    existing: dict[str, Stored]


def append_rows(conn: sa.Connection, rows: Sequence[dict[str, Any]],
                ) -> tuple[dict[str, Position], dict[str, Stored]]:
    """Insert each row whose event id is new (the first of equal ids wins). Returns where each
    inserted row sits in the log, and the seq and body hash of every id that was already stored."""
    appended = append_values(conn, [_row_values(row) for row in rows])
    return ({event_id: Position(appended.xact, seq) for event_id, seq in appended.seqs.items()},
            appended.existing)


def append_values(conn: sa.Connection, rows: Sequence[AppendedRow]) -> Appended:
    """`append_rows` for rows given as `AppendedRow`s: the request path's form."""
    if not rows:
        return Appended(0, {}, {})
    if conn.dialect.name == "postgresql":
        xact, seqs = _append_postgresql(conn, rows)
    else:
        xact, seqs = 0, _append_sqlite(conn, rows)
    if len(seqs) == len(rows):  # every row new: nothing to look up
        return Appended(xact, seqs, {})
    missing = sorted({row[0] for row in rows}.difference(seqs))
    existing: dict[str, Stored] = {}
    for chunk in _chunks(missing):
        found = conn.execute(sa.select(events.c.event_id, events.c.seq, events.c.body_hash)
                             .where(events.c.event_id.in_(chunk)))
        existing.update((row.event_id, (row.seq, row.body_hash)) for row in found)
    compacted = sorted(event_id for event_id, (_seq, digest) in existing.items()
                       if digest == DIGEST_NOT_STORED)
    for chunk in _chunks(compacted):  # no digest kept: made from the body
        found = conn.execute(sa.select(events.c.event_id, events.c.seq, *BODY_COLUMNS)
                             .where(events.c.event_id.in_(chunk)))
        existing.update((row.event_id, (row.seq, content_digest(event_json(conn, row))))
                        for row in found)
    return Appended(xact, seqs, existing)


def append_jobs(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the group's job rows (one per envelope), each giving every `JOB_COLUMNS`."""
    if conn.dialect.name == "postgresql":
        execute_once(conn, f"INSERT INTO {jobs.name} ({', '.join(JOB_COLUMNS)}) "
                           f"{unnest_rows(conn.dialect, jobs, JOB_COLUMNS)}",
                     column_arrays(conn.dialect, jobs, rows, JOB_COLUMNS))
        return
    sql = (f"INSERT INTO {jobs.name} ({', '.join(JOB_COLUMNS)}) "
           f"VALUES ({sql_marks(conn, len(JOB_COLUMNS))})")
    execute_many(conn, sql, driver_params(conn, rows, JOB_COLUMNS, jobs))


def _append_postgresql(conn: sa.Connection, rows: Sequence[AppendedRow],
                       ) -> tuple[int, dict[str, int]]:
    """One statement for the group: its rows as column arrays, inserted in their order (so
    `seq` follows it, and of equal ids the first wins), each with its writing transaction
    (store/commit_order.py says why): one transaction, so one xact."""
    sql = (f"INSERT INTO events ({', '.join(APPENDED_COLUMNS)}, xact) "
           f"{unnest_rows(conn.dialect, events, APPENDED_COLUMNS, WRITING_TRANSACTION)} "
           "ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq, xact")
    returned = execute_once(conn, sql, typed_arrays(conn.dialect, events, APPENDED_COLUMNS,
                                                    list(map(list, zip(*rows, strict=True)))))
    return (returned[0][2] if returned else 0), {event_id: seq for event_id, seq, _ in returned}


_SQLITE_COLUMNS = _NOT_INTERNED + INTERNED_COLUMNS
_EVENT_ID_TYPE = events.c.event_id.type
if not isinstance(_EVENT_ID_TYPE, UuidText):
    raise TypeError("events.event_id is a UuidText")
_EVENT_ID_PREFIX = _EVENT_ID_TYPE.prefix


def _append_sqlite(conn: sa.Connection, rows: Sequence[AppendedRow]) -> dict[str, int]:
    """One `executemany` of the rows in their store forms (`sqlite_params`). SQLite gives a new
    row the largest rowid plus one, and this transaction holds the write lock from its first
    insert on, so the rows inserted took consecutive seqs, in order, ending at the last insert's
    rowid: when every row went in, that is each row's seq with nothing read back; otherwise the
    rows past the seq before them are read back by id. (Measured against a statement per row
    reading its `rowcount` and `lastrowid`, and against a multi-row INSERT ... RETURNING: both
    cost more.)"""
    sql = (f"INSERT INTO events ({', '.join(_SQLITE_COLUMNS)}) VALUES "
           f"({sql_marks(conn, len(_SQLITE_COLUMNS))}) ON CONFLICT (event_id) DO NOTHING")
    columns = list(zip(*rows, strict=True))
    ids = text_ids(conn, itertools.chain.from_iterable(columns[index]
                                                       for index in _INTERNED_INDEXES))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, sqlite_params(columns, ids))
        inserted = cursor.rowcount
        if inserted <= 0:
            return {}
        last = cursor.execute("SELECT last_insert_rowid()").fetchone()[0]
        if inserted == len(rows):
            return dict(zip(columns[0], range(last - inserted + 1, last + 1), strict=True))
        stored_ids = {_hashable(stored): event_id for event_id, stored
                      in zip(columns[0], _stored_event_ids(columns[0]), strict=True)}
        cursor.execute("SELECT event_id, seq FROM events WHERE seq > ?", (last - inserted,))
        return {stored_ids[stored]: seq for stored, seq in cursor.fetchall()}
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


_INTERNED_INDEXES = tuple(APPENDED_COLUMNS.index(name) for name in INTERNED_COLUMNS)


def _stored_event_ids(event_ids: Sequence[str]) -> Iterable[bytearray | str]:
    """events.event_id as SQLite stores it (UuidText with its prefix): a group whose ids are
    all in the form UuidText stores as bytes checked and converted together, in passes over
    their joined text (no Python frame per id); any other group id by id."""
    together = _uuid_bytes_together(event_ids)
    if together is not None:
        return together
    return map(uuid_bytes, event_ids, itertools.repeat(_EVENT_ID_PREFIX))


_UUID_ID_LENGTH = len(_EVENT_ID_PREFIX) + 36
_HYPHENS_AT = (8, 13, 18, 23)  # in a uuid's 36 characters


def _uuid_bytes_together(event_ids: Sequence[str]) -> list[bytearray] | None:
    """Each id's 16 bytes, as `uuid_bytes` gives them, when every id is the prefix and a
    lower-case hyphenated uuid; else None."""
    count = len(event_ids)
    if not count or set(map(len, event_ids)) != {_UUID_ID_LENGTH} \
            or not all(map(str.startswith, event_ids, itertools.repeat(_EVENT_ID_PREFIX))):
        return None
    uuids = "".join(map(operator.getitem, event_ids,
                        itertools.repeat(slice(len(_EVENT_ID_PREFIX), None))))
    if any(uuids[at::36] != "-" * count for at in _HYPHENS_AT):
        return None
    digits = uuids.replace("-", "")
    if len(digits) != 32 * count:  # a hyphen elsewhere
        return None
    try:
        raw = bytearray.fromhex(digits)
    except ValueError:
        return None
    if raw.hex() != digits:  # upper case, or white space fromhex skipped
        return None
    return list(map(raw.__getitem__, map(slice, range(0, 16 * count, 16),
                                         range(16, 16 * count + 1, 16))))


def _hashable(stored: bytearray | str) -> bytes | str:
    return bytes(stored) if isinstance(stored, bytearray) else stored


def sqlite_params(columns: Sequence[Sequence[Any]],
                  ids: Mapping[str | None, int | None]) -> Iterator[tuple[Any, ...]]:
    """The rows given as columns (`APPENDED_COLUMNS`' order) as SQLite's INSERT takes them
    (`_SQLITE_COLUMNS`' order), each value in the form the column's type writes on SQLite, the
    interned texts as their `ids`; column by column, so a conversion in C (a dict's lookup)
    runs without a Python frame. (A test holds them equal to the types' own conversions,
    `driver_params`.)"""
    (event_id, body_hash, kind, type_, action, profile, actor_id, learner_email, run_id,
     event_time, sensor, received_at, job_id, body, partition) = columns
    term = TERM_VALUES.__getitem__
    micros = UtcMicrosecondsMemo().__getitem__
    interned = ids.__getitem__
    return zip(_stored_event_ids(event_id), body_hash, map(term, kind), map(term, type_),
               map(term, action), map(term, profile), map(micros, event_time),
               map(micros, received_at), job_id, body, partition, map(interned, actor_id),
               map(interned, learner_email), map(interned, run_id), map(interned, sensor),
               strict=True)


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start:start + _IN_CHUNK]
