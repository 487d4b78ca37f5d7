"""SQLite writers of one store take turns on a file lock before they ask SQLite for its write lock.

SQLite makes a writer that finds the write lock taken poll for it, sleeping 1, 2, 5 ... up to 100 ms
between tries: when the projector process commits a batch, the API's append may sleep on for
tens of milliseconds after the lock came free, and the other way round. Here a writer first
takes its turn on an `flock` beside the database, trying again every 0.5-2 ms, so the next writer
goes within 2 ms of the holder letting go; then SQLite's lock is free when it asks. The wait is
bounded like SQLite's own (`store.database.SQLITE_BUSY_TIMEOUT_MS`): past it the write fails as
"database is locked", which the API answers with a 503 like any locked store. The platform's
regular writers (the ingest append, the projector, job write-back, compaction) take a turn; any
other writer (an admin command) still gets SQLite's own busy wait, so nothing depends on it.

The lock file is `<database>-writers` next to the database file. On a system without `fcntl`
(Windows) turns are not taken and SQLite's busy wait alone applies.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time  # clock-ok: the monotonic default of the injected clock (tests pass their own)
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


#: Waits between two tries for a turn another process holds: doubling from the first to the last.
RETRY_PAUSES_S = (0.0005, 0.001, 0.002)
_NEVER_SET = threading.Event()


class WriterTurns:
    """One store's turns, shared by the threads of this process (a turn is re-entrant)."""

    def __init__(self, database_path: str, timeout_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 pause: Callable[[float], object] = _NEVER_SET.wait) -> None:
        self.lock_path = f"{database_path}-writers"
        self._timeout_s = timeout_s
        self._clock = clock
        self._pause = pause
        self._thread_lock = threading.RLock()
        self._depth = 0  # turns the holding thread has taken and not yet given back
        self._fd: int | None = None

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the store's turn: no other writer taking turns, in any process, meanwhile."""
        deadline = self._clock() + self._timeout_s
        if not self._thread_lock.acquire(timeout=self._timeout_s):
            raise _locked()
        try:
            if self._depth == 0:
                self._wait_for_lock(deadline)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._unlock()
        finally:
            self._thread_lock.release()

    def try_turn(self) -> bool:
        """Whether a turn is free for this thread right now (for tests and monitoring); takes
        nothing and never waits."""
        if not self._thread_lock.acquire(blocking=False):
            return False  # another thread of this process holds it
        try:
            if self._depth:
                return True
            if not self._lock():
                return False
            self._unlock()
            return True
        finally:
            self._thread_lock.release()

    def _wait_for_lock(self, deadline: float) -> None:
        tries = 0
        while not self._lock():
            if self._clock() >= deadline:
                raise _locked()
            self._pause(RETRY_PAUSES_S[min(tries, len(RETRY_PAUSES_S) - 1)])
            tries += 1

    def _lock(self) -> bool:
        """Take the file lock if it is free; never waits."""
        if fcntl is None:
            return True
        if self._fd is None:
            self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(self) -> None:
        if fcntl is not None and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


def _locked() -> sa.exc.OperationalError:
    """The error SQLite's own busy wait ends with, so callers treat both alike (a 503)."""
    error = sqlite3.OperationalError("database is locked (waiting for the writers' turn)")
    error.sqlite_errorcode = sqlite3.SQLITE_BUSY
    error.sqlite_errorname = "SQLITE_BUSY"
    return sa.exc.OperationalError("-- a turn among the store's writers", None, error)


_BY_PATH: dict[str, WriterTurns] = {}
_BY_PATH_LOCK = threading.Lock()
_BY_NAME: dict[str, WriterTurns] = {}  # as the engine names the file


def turns_for(database_path: str, timeout_s: float = 30.0) -> WriterTurns:
    """The process's turns for this database file (one per file, whatever engine asks; the
    first caller's `timeout_s` stands)."""
    known = _BY_NAME.get(database_path)  # every write asks: resolving the path again cost more
    if known is not None:
        return known
    path = os.path.realpath(database_path)
    with _BY_PATH_LOCK:
        turns = _BY_PATH.get(path)
        if turns is None:
            turns = _BY_PATH[path] = WriterTurns(path, timeout_s)
        _BY_NAME[database_path] = turns
        return turns
