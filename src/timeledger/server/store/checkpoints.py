"""SQLite WAL checkpoints off the commit path: a thread copies the log back while writers go on.

SQLite's automatic checkpoint runs inside whichever commit crosses 1000 log pages, so every few
ingest transactions one of them also copies and syncs the database file. Here connections turn
that off and writers report each commit; one thread runs PASSIVE checkpoints (which never block
writers or readers) in the background once every `commits_per_checkpoint` commits, and a TRUNCATE
on close leaves the database file whole.

Each checkpoint syncs the database file, so one per commit would cost a sync per commit again
(measured: a tenth of the API process's time under ingest). The log then holds at most that many
commits (about 10 MB for envelopes of 100 heartbeats) before it starts over.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


#: Commits between two background checkpoints (see the module docstring).
COMMITS_PER_CHECKPOINT = 8


class WalCheckpointer:
    """Background checkpoints for one SQLite engine; `request()` after a commit, `close()` last."""

    @classmethod
    def for_engine(cls, engine: Engine) -> WalCheckpointer | None:
        """One for an SQLite database file; None for PostgreSQL or an in-memory database."""
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        return cls(engine, database)

    def __init__(self, engine: Engine, path: str,
                 commits_per_checkpoint: int = COMMITS_PER_CHECKPOINT) -> None:
        if commits_per_checkpoint < 1:
            raise ValueError("commits_per_checkpoint must be at least 1")
        self._path = path
        self._every = commits_per_checkpoint
        self._commits = 0  # reported since the last checkpoint was asked for
        self.asked = 0  # checkpoints asked for so far (each runs, or is served by the next)
        self._wanted = threading.Condition()
        self._pending = False
        self._running = False
        self._closed = False
        self._thread: threading.Thread | None = None
        sa.event.listen(engine, "connect", _no_autocheckpoint)
        engine.dispose()  # connections opened before this point would still checkpoint inline

    def request(self) -> None:
        """A commit happened: every `commits_per_checkpoint`-th asks for a checkpoint soon;
        requests made while one runs are served by the next."""
        with self._wanted:
            if self._closed:
                return
            self._commits += 1
            if self._commits >= self._every:
                self._ask()

    def _ask(self) -> None:
        """With `_wanted` held: start a checkpoint soon."""
        self.asked += 1
        self._commits = 0
        self._pending = True
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="wal-checkpoints",
                                            daemon=True)
            self._thread.start()
        self._wanted.notify()

    def settle(self, timeout: float | None = None) -> bool:
        """Checkpoint every commit reported so far and block until that has run; False if
        `timeout` passed first."""
        with self._wanted:
            if self._commits and not self._closed:
                self._ask()
            return self._wanted.wait_for(lambda: not self._pending and not self._running,
                                         timeout)

    def close(self) -> None:
        """Stop the thread and fold the whole log into the database file, if nobody else is
        using it (otherwise the log stays for the next checkpoint: nothing is lost either way)."""
        with self._wanted:
            self._closed = True
            thread, self._thread = self._thread, None
            self._wanted.notify_all()
        if thread is not None:
            thread.join()
        self._checkpoint("TRUNCATE")

    def _serve(self) -> None:
        connection = sqlite3.connect(self._path, timeout=30)
        try:
            while True:
                with self._wanted:
                    self._wanted.wait_for(lambda: self._pending or self._closed)
                    if self._closed:
                        return
                    self._pending = False
                    self._running = True
                try:
                    self._run(connection, "PASSIVE")
                finally:
                    with self._wanted:
                        self._running = False
                        self._wanted.notify_all()
        finally:
            connection.close()

    def _checkpoint(self, mode: str) -> None:
        # No busy wait: a TRUNCATE that waited for another process's readers would hold off
        # that process's writers meanwhile (a CLI command closing beside a running server).
        connection = sqlite3.connect(self._path, timeout=0)
        try:
            self._run(connection, mode)
        finally:
            connection.close()

    @staticmethod
    def _run(connection: sqlite3.Connection, mode: str) -> None:
        try:
            connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
        except sqlite3.Error as exc:  # the log stays as it was; the next request tries again
            log.warning("WAL checkpoint (%s) failed: %s", mode, exc)
