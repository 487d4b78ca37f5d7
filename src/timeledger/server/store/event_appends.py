"""The request path's writes: event rows and their jobs appended through the driver, not Core
(store/driver_rows.py says why). SQLAlchemy still owns the schema and every query."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from timeledger.server.store.commit_order import WRITING_TRANSACTION
from timeledger.server.store.driver_rows import (
    column_arrays,
    driver_params,
    execute_many,
    execute_once,
    sql_marks,
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
_interned_texts = operator.itemgetter(*INTERNED_COLUMNS)
#: The columns of a job row, all given by the append.
JOB_COLUMNS = ("id", "client_id", "state", "created_at", "processed_on", "results", "needs")
_IN_CHUNK = 500  # event ids per `IN (...)` lookup (SQLite allows 32,766 parameters)

Stored = tuple[int, str]  # seq, body_hash


def append_rows(conn: sa.Connection, rows: Sequence[dict[str, Any]],
                ) -> tuple[dict[str, Position], dict[str, Stored]]:
    """Insert each row whose event id is new (the first of equal ids wins). Returns where each
    inserted row sits in the log, and the seq and body hash of every id that was already stored."""
    if not rows:
        return {}, {}
    if conn.dialect.name == "postgresql":
        written = _append_postgresql(conn, rows)
    else:
        written = _append_sqlite(conn, rows)
    missing = sorted({r["event_id"] for r in rows} - written.keys())
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
    return written, existing


def append_jobs(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the group's job rows (one per envelope), each giving every `JOB_COLUMNS`."""
    if conn.dialect.name == "postgresql":
        execute_once(conn, f"INSERT INTO {jobs.name} ({', '.join(JOB_COLUMNS)}) "
                           f"{unnest_rows(conn.dialect, jobs, JOB_COLUMNS)}",
                     column_arrays(rows, JOB_COLUMNS))
        return
    sql = (f"INSERT INTO {jobs.name} ({', '.join(JOB_COLUMNS)}) "
           f"VALUES ({sql_marks(conn, len(JOB_COLUMNS))})")
    execute_many(conn, sql, driver_params(conn, rows, JOB_COLUMNS, jobs))


def _append_postgresql(conn: sa.Connection, rows: Sequence[dict[str, Any]],
                       ) -> dict[str, Position]:
    """One statement for the group: its rows as column arrays, inserted in their order (so
    `seq` follows it, and of equal ids the first wins), each with its writing transaction
    (store/commit_order.py says why)."""
    sql = (f"INSERT INTO events ({', '.join(APPENDED_COLUMNS)}, xact) "
           f"{unnest_rows(conn.dialect, events, APPENDED_COLUMNS, WRITING_TRANSACTION)} "
           "ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq, xact")
    returned = execute_once(conn, sql, column_arrays(rows, APPENDED_COLUMNS))
    return {event_id: Position(xact, seq) for event_id, seq, xact in returned}


def _append_sqlite(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> dict[str, Position]:
    """Row by row on the driver's cursor: each statement's `rowcount` says whether the row went
    in and `lastrowid` is its seq. (Measured against an `executemany` followed by reading the
    new rows back by id, and against a multi-row INSERT ... RETURNING: both cost more.)"""
    sql = (f"INSERT INTO events ({', '.join(_NOT_INTERNED + INTERNED_COLUMNS)}) VALUES "
           f"({sql_marks(conn, len(APPENDED_COLUMNS))}) ON CONFLICT (event_id) DO NOTHING")
    ids = text_ids(conn, itertools.chain.from_iterable(map(_interned_texts, rows)))
    written: dict[str, Position] = {}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for row, values in zip(rows, driver_params(conn, rows, _NOT_INTERNED, events),
                               strict=True):
            actor_id, email, run_id, sensor = _interned_texts(row)
            cursor.execute(sql, (*values, ids[actor_id], ids[email], ids[run_id], ids[sensor]))
            if cursor.rowcount > 0:
                written[row["event_id"]] = Position(0, cursor.lastrowid)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()
    return written


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start:start + _IN_CHUNK]
