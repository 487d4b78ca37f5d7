"""The request path's one write: event rows appended through the driver, not Core (store/
driver_rows.py says why). SQLAlchemy still owns the schema and every query."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from timeledger.server.store.driver_rows import driver_params, execute_many, sql_marks
from timeledger.server.store.event_bodies import (
    BODY_COLUMNS,
    COMPACTED,
    content_digest,
    event_json,
)
from timeledger.server.store.log_positions import Position
from timeledger.server.store.schema import events

#: The columns an appended row gives (the others default: seq, xact, packed).
APPENDED_COLUMNS = ("event_id", "body_hash", "kind", "type", "action", "profile", "actor_id",
                    "learner_email", "run_id", "event_time", "sensor", "received_at", "job_id",
                    "body", "partition")
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
        written = _append_sqlite(conn, rows, {row["job_id"] for row in rows})
    missing = sorted({r["event_id"] for r in rows} - written.keys())
    existing: dict[str, Stored] = {}
    for chunk in _chunks(missing):
        found = conn.execute(sa.select(events.c.event_id, events.c.seq, events.c.body_hash)
                             .where(events.c.event_id.in_(chunk)))
        existing.update((row.event_id, (row.seq, row.body_hash)) for row in found)
    compacted = sorted(event_id for event_id, (_seq, digest) in existing.items()
                       if digest == COMPACTED)
    for chunk in _chunks(compacted):  # their digest went with compaction: made from the body
        found = conn.execute(sa.select(events.c.event_id, events.c.seq, *BODY_COLUMNS)
                             .where(events.c.event_id.in_(chunk)))
        existing.update((row.event_id, (row.seq, content_digest(event_json(conn, row))))
                        for row in found)
    return written, existing


def _append_postgresql(conn: sa.Connection, rows: Sequence[dict[str, Any]],
                       ) -> dict[str, Position]:
    sql = (f"INSERT INTO events ({', '.join(APPENDED_COLUMNS)}, xact) VALUES "
           f"({sql_marks(conn, len(APPENDED_COLUMNS))}, pg_current_xact_id()::text::bigint) "
           "ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq, xact")
    returned = execute_many(conn, sql, driver_params(conn, rows, APPENDED_COLUMNS),
                            returning=True)
    return {event_id: Position(xact, seq) for event_id, seq, xact in returned}


def _append_sqlite(conn: sa.Connection, rows: Sequence[dict[str, Any]],
                   job_ids: set[str]) -> dict[str, Position]:
    """SQLite's executemany returns no rows: the inserted ones are those now filed under this
    group's (fresh) job ids. (A multi-row INSERT ... RETURNING measured slower than both.)"""
    sql = (f"INSERT INTO events ({', '.join(APPENDED_COLUMNS)}) VALUES "
           f"({sql_marks(conn, len(APPENDED_COLUMNS))}) ON CONFLICT (event_id) DO NOTHING")
    execute_many(conn, sql, driver_params(conn, rows, APPENDED_COLUMNS, events))
    written: dict[str, Position] = {}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:  # the driver's own rows: Core's result machinery cost more than the lookup itself
        for chunk in _chunks(sorted({row["event_id"] for row in rows})):
            sql = ("SELECT event_id, seq, job_id FROM events WHERE event_id IN "
                   f"({sql_marks(conn, len(chunk))})")
            cursor.execute(sql, chunk)
            written.update((event_id, Position(0, seq)) for event_id, seq, job_id in cursor
                           if job_id in job_ids)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()
    return written


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start:start + _IN_CHUNK]
