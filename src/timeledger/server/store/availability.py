"""Whether the store can take writes now: which database errors are outages, and a probe.

An outage is a state of the store, not of the request: the disk is full, the file is read-only
or locked past the busy timeout, or PostgreSQL cannot be reached. The request was not applied and
the same request sent again later may well succeed, so the API answers 503 with Retry-After.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# SQLite primary result codes that say the file cannot be written now (sqlite.org/rescode.html):
# BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN.
SQLITE_OUTAGE_CODES = frozenset({5, 6, 8, 10, 13, 14})
# PostgreSQL SQLSTATE classes and codes that say the server cannot serve writes now: connection
# exceptions (08), insufficient resources (53: disk full, too many connections), operator
# intervention (57P01-57P03: shutting down or starting up), a read-only transaction (25006).
PG_OUTAGE_CLASSES = ("08", "53")
PG_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03", "25006"})
# /readyz says "not ready" below this much free space for an SQLite store.
MIN_FREE_BYTES = 16 * 1024 * 1024
PROBE_LOCK_TIMEOUT_S = 2.0


def outage_reason(exc: BaseException) -> str | None:
    """Why `exc` means the store is out of service for now, or None for any other error."""
    if isinstance(exc, sa.exc.TimeoutError):
        return "no database connection became free in time"
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return "the database connection was lost"
        connection_failed = isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)
        return _driver_outage(exc.orig, connection_failed)
    return _driver_outage(exc, isinstance(exc, sqlite3.OperationalError))


def _driver_outage(error: BaseException | None, connection_failed: bool) -> str | None:
    if error is None:
        return None
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return str(error) if code & 0xFF in SQLITE_OUTAGE_CODES else None
    state = getattr(error, "sqlstate", None)
    if isinstance(state, str):
        outage = state[:2] in PG_OUTAGE_CLASSES or state in PG_OUTAGE_STATES
        return _first_line(error) if outage else None
    # psycopg names no SQLSTATE when it could not reach the server at all.
    if connection_failed and type(error).__module__.startswith("psycopg"):
        return _first_line(error)
    return None


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def unwritable_reason(engine: Engine) -> str | None:
    """None when the store can take a write now, else why not (for `/readyz`)."""
    if engine.dialect.name == "sqlite":
        return _sqlite_unwritable(engine.url.database)
    try:
        with engine.connect() as conn:
            read_only = conn.execute(sa.text(
                "SELECT current_setting('transaction_read_only') = 'on' OR pg_is_in_recovery()"
            )).scalar_one()
    except sa.exc.SQLAlchemyError as exc:
        return outage_reason(exc) or _first_line(exc)
    return "the PostgreSQL server only allows reads" if read_only else None


def _sqlite_unwritable(database: str | None) -> str | None:
    if not database or database == ":memory:":
        return None
    path = Path(database)
    for candidate in (path, path.with_name(path.name + "-wal"), path.parent):
        if candidate.exists() and not os.access(candidate, os.W_OK):
            return f"{candidate} is not writable"
    free = shutil.disk_usage(path.parent).free
    if free < MIN_FREE_BYTES:
        return f"only {free} bytes free for {path.parent} (at least {MIN_FREE_BYTES} needed)"
    # The write lock, as a writer would take it: held elsewhere for too long means a writer
    # would wait too.
    try:
        connection = sqlite3.connect(path, timeout=PROBE_LOCK_TIMEOUT_S, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
        finally:
            connection.close()
    except sqlite3.Error as exc:
        return str(exc)
    return None
