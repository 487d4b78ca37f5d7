"""The request path's one write: event rows appended with the driver's `executemany`.

SQLAlchemy Core processes every parameter of every row in Python, and psycopg re-parses the long
multi-row statement Core builds for each batch; here the statement is short and prepared once,
and the rows go to the driver as plain tuples. SQLAlchemy still owns the schema and every query.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from timeledger.server.store.log_positions import Position
from timeledger.server.store.schema import events

#: The columns an appended row gives (the others default: seq, xact, packed).
APPENDED_COLUMNS = ("event_id", "body_hash", "kind", "type", "action", "profile", "actor_id",
                    "learner_email", "run_id", "event_time", "sensor", "received_at", "job_id",
                    "body", "partition")
_IN_CHUNK = 500  # event ids per `IN (...)` lookup (SQLite allows 32,766 parameters)

Stored = tuple[int, str]  # seq, body_hash


def append_rows(conn: sa.Connection, rows: Sequence[dict[str, Any]],
                job_ids: set[str]) -> tuple[dict[str, Position], dict[str, Stored]]:
    """Insert each row whose event id is new (the first of equal ids wins). Returns where each
    inserted row sits in the log, and the seq and body hash of every id that was already stored."""
    if not rows:
        return {}, {}
    if conn.dialect.name == "postgresql":
        written = _append_postgresql(conn, rows)
    else:
        written = _append_sqlite(conn, rows, job_ids)
    missing = sorted({r["event_id"] for r in rows} - written.keys())
    existing: dict[str, Stored] = {}
    for chunk in _chunks(missing):
        found = conn.execute(sa.select(events.c.event_id, events.c.seq, events.c.body_hash)
                             .where(events.c.event_id.in_(chunk)))
        existing.update((row.event_id, (row.seq, row.body_hash)) for row in found)
    return written, existing


def _append_postgresql(conn: sa.Connection, rows: Sequence[dict[str, Any]],
                       ) -> dict[str, Position]:
    sql = (f"INSERT INTO events ({', '.join(APPENDED_COLUMNS)}, xact) VALUES "
           f"({', '.join(['%s'] * len(APPENDED_COLUMNS))}, pg_current_xact_id()::text::bigint) "
           "ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq, xact")
    params = [tuple(row[name] for name in APPENDED_COLUMNS) for row in rows]
    written: dict[str, Position] = {}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, params, returning=True)
        while True:
            for event_id, seq, xact in cursor.fetchall():
                written[event_id] = Position(xact, seq)
            if not cursor.nextset():
                break
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, sql, exc) from exc
    return written


def _append_sqlite(conn: sa.Connection, rows: Sequence[dict[str, Any]],
                   job_ids: set[str]) -> dict[str, Position]:
    """SQLite's executemany returns no rows: the inserted ones are those now filed under this
    group's (fresh) job ids."""
    sql = (f"INSERT INTO events ({', '.join(APPENDED_COLUMNS)}) VALUES "
           f"({', '.join(['?'] * len(APPENDED_COLUMNS))}) ON CONFLICT (event_id) DO NOTHING")
    times: dict[datetime, str] = {}  # a group's rows share received_at, a run's windows repeat
    params = [tuple(_sqlite_value(row[name], times) for name in APPENDED_COLUMNS)
              for row in rows]
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, sql, exc) from exc
    written: dict[str, Position] = {}
    for chunk in _chunks(sorted({row["event_id"] for row in rows})):
        found = conn.execute(sa.select(events.c.event_id, events.c.seq, events.c.job_id)
                             .where(events.c.event_id.in_(chunk)))
        written.update((row.event_id, Position(0, row.seq)) for row in found
                       if row.job_id in job_ids)
    return written


def _sqlite_value(value: Any, times: dict[datetime, str]) -> Any:
    """Datetimes as the store's UtcDateTime writes them on SQLite (naive UTC, microseconds)."""
    if not isinstance(value, datetime):
        return value
    text = times.get(value)
    if text is None:
        text = times[value] = value.astimezone(UTC).replace(tzinfo=None).isoformat(
            " ", "microseconds")
    return text


def _wrapped(conn: sa.Connection, sql: str, exc: Exception) -> sa.exc.StatementError:
    """The driver's error as SQLAlchemy raises it, so retries and outage checks see it."""
    return sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error)


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start:start + _IN_CHUNK]
