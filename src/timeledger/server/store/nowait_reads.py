"""Point reads an async request can make on its event loop: an SQLite connection that never waits.

Every authenticated request looks its bearer token up. Through a worker thread that costs a thread
hop each way and SQLAlchemy's checkout and result processing, several times the primary-key read
itself. In WAL mode a reader does not wait for writers or checkpoints, so on SQLite the read can
run on the loop; the connection has a busy timeout of 0, and in the rare moment SQLite would make
it wait (a log being recovered, a `VACUUM` from the CLI) it raises `StoreBusy` at once and the
caller takes the thread path instead. A read on PostgreSQL is a network round trip, which must
not hold up the loop: there it awaits an asynchronous connection (store/loop_reads.py).
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from sqlalchemy.engine import Engine


class StoreBusy(Exception):
    """The read would have had to wait, or (PostgreSQL) failed; ask again through a worker
    thread."""


class NowaitReader:
    """One read-only connection to the engine's SQLite file, shared under a lock."""

    @classmethod
    def for_engine(cls, engine: Engine) -> NowaitReader | None:
        """A reader for an SQLite database file; None for PostgreSQL or an in-memory database."""
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        return cls(database)

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def first(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row of a query (meant for a primary-key read), as the driver returns it;
        raises `StoreBusy`."""
        with self._lock:
            try:
                rows = self._open().execute(sql, params).fetchall()  # ends the read at once
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise StoreBusy(str(exc)) from exc
                raise
        return rows[0] if rows else None

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self._path, timeout=0, check_same_thread=False,
                                         isolation_level=None)
            connection.execute("PRAGMA query_only=1")
            self._connection = connection
        return self._connection
