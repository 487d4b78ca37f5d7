"""Group commit for the outbox: inserts that arrive together share one SQLite transaction.

A commit is what an insert costs (the WAL append, the page writes), so writes waiting at the same
moment are taken together, up to `max_batch_events`, and written in one transaction. Three ways
in:

- `add(events)` blocks its caller until the transaction holding its events has committed. The
  caller writes the batch itself when nobody else is writing (a lone caller pays no thread hop);
  otherwise it waits, and the next one to get the writer takes every write waiting by then. This
  is how concurrent web-adapter requests share a commit.
- `add_later(events)` returns at once with a future; a writer thread of its own commits it
  (with whatever else waits) and only then resolves the future (`AsyncClient`'s `end()`).
- `add_soon(events, done)` is `add_later` with a callback run once committed instead of a future:
  heartbeat timers and `enqueue_later` use it, so the app's thread never waits on SQLite and the
  writer settles each write with one call. Only the first of these since the thread last looked
  wakes it.

`drain()` writes everything waiting on the calling thread; every read of the outbox calls it
first, so a read sees every write handed over before it. A future is resolved, and its callbacks
run (an `add_soon` callback too), before the writer moves on, so `drain()` returning means they
have run. A failing transaction fails every write in it with the same error (their events were
not stored). At most `max_waiting_events` events wait at once; past it `OutboxBusyError`, and
nothing is queued.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

from timeledger.sdk.errors import OutboxBusyError

log = logging.getLogger("timeledger.sdk")

DEFAULT_MAX_BATCH_EVENTS = 1000
DEFAULT_MAX_WAITING_EVENTS = 100_000
IDLE_SECONDS = 60.0
"""A writer thread with nothing to write for this long ends (the next `add_later` starts one)."""

Results = list[bool]
Event = TypeVar("Event")


class Written(Future[Results]):
    """A write's future. Waiting for it (`result()`) writes it on the waiting thread when the
    writer thread has not taken it yet, so `end()` pays no thread hop."""

    def __init__(self, drain: Callable[[], None]) -> None:
        super().__init__()
        self._drain = drain

    def result(self, timeout: float | None = None) -> Results:
        if not self.done():
            self._drain()
        return super().result(timeout)


Done = Callable[[Results | Exception], None]
"""What `add_soon` calls once its write is settled: the results, or the error that failed it."""


@dataclass(slots=True, eq=False)
class _Write(Generic[Event]):
    events: Sequence[Event]
    future: Future[Results] | None = None
    done: Done | None = None
    # How it went, for an `add` caller (which waits on the writer lock, not on a future).
    settled: bool = False
    results: Results | None = None
    error: BaseException | None = None


def _call(done: Done, outcome: Results | BaseException | None) -> None:
    if not isinstance(outcome, list | Exception):
        outcome = RuntimeError(f"the write was interrupted ({outcome!r})")
    try:
        done(outcome)
    except Exception:  # a callback must not stop the writer; logged
        log.exception("timeledger outbox write callback raised")


class OutboxWriter(Generic[Event]):
    """Runs `write(batches)` (one transaction; a list of results per batch, in order)."""

    def __init__(self, write: Callable[[Sequence[Sequence[Event]]], list[Results]], *,
                 max_batch_events: int = DEFAULT_MAX_BATCH_EVENTS,
                 max_waiting_events: int = DEFAULT_MAX_WAITING_EVENTS,
                 thread_name: str = "timeledger-outbox-writer") -> None:
        self._write = write
        self.max_batch_events = max_batch_events
        self.max_waiting_events = max_waiting_events
        self._thread_name = thread_name
        self._waiting: deque[_Write[Event]] = deque()
        self._waiting_events = 0
        self._unsettled = 0  # writes handed over and not resolved yet (waiting or being written)
        self._mutex = threading.Lock()  # the waiting writes and counts
        self._queue = threading.Condition(self._mutex)  # the writer thread waits on this
        # Reentrant: a future's callback, run while its batch's writer holds this, may read.
        self._writer = threading.RLock()
        self._later = False  # an add_later write waits for the thread
        self._watchers = 0  # threads in wait_for_waiting
        self._thread: threading.Thread | None = None
        self._closed = False
        self.transactions = 0
        """Transactions committed so far (tests and monitoring)."""

    def add(self, events: Sequence[Event]) -> Results:
        """Write `events` in the next transaction and return once it has committed."""
        write: _Write[Event] = _Write(events)
        self._enter(write)
        while not write.settled:
            with self._writer:  # whoever holds it is writing; once it lets go, look again
                if not write.settled:
                    self._run(self._take())
        if write.error is not None:
            raise write.error
        assert write.results is not None
        return write.results

    def add_later(self, events: Sequence[Event]) -> Future[Results]:
        """Hand `events` to the writer thread; the future resolves once they are committed."""
        future = Written(self.drain)
        self._enter(_Write(events, future), later=True)
        return future

    def add_soon(self, events: Sequence[Event], done: Done) -> None:
        """As `add_later` with a callback instead of a future (a heartbeat timer's write, where a
        future per window is the larger part of the writer's own work). `done` runs on the thread
        that commits the write, and must not raise."""
        self._enter(_Write(events, None, done), later=True)

    def drain(self) -> None:
        """Write everything handed over so far, and wait for writes already being written."""
        if not self._unsettled:
            return
        with self._writer:
            while batch := self._take():
                self._run(batch)

    def wait_for_waiting(self, count: int, timeout: float) -> bool:
        """Block until at least `count` writes wait for the writer (for tests and monitoring)."""
        with self._queue:
            self._watchers += 1
            try:
                return self._queue.wait_for(lambda: len(self._waiting) >= count, timeout)
            finally:
                self._watchers -= 1

    def close(self) -> None:
        """Write what waits, then end the writer thread; later writes are written by their
        callers (`add_later` then starts no thread)."""
        self.drain()
        with self._queue:
            self._closed = True
            thread, self._thread = self._thread, None
            self._queue.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _enter(self, write: _Write[Event], later: bool = False) -> None:
        events = write.events
        with self._mutex:
            if self._waiting_events + len(events) > self.max_waiting_events:
                raise OutboxBusyError(self._waiting_events, self.max_waiting_events)
            self._waiting.append(write)
            self._waiting_events += len(events)
            self._unsettled += 1
            # Only the first later write since the thread last looked wakes it (a wake-up is a
            # futex call and a GIL hand-over; later ones are taken with it).
            wake = later and not self._later
            if later:
                self._later = True
                if self._thread is None and not self._closed:
                    self._thread = threading.Thread(target=self._loop, name=self._thread_name,
                                                    daemon=True)
                    self._thread.start()
            if wake or self._watchers:
                self._queue.notify_all()
        if later and self._closed:
            self.drain()

    def _take(self) -> list[_Write[Event]]:
        """The oldest waiting writes within `max_batch_events` (at least one, if any wait)."""
        taken: list[_Write[Event]] = []
        used = 0
        with self._mutex:
            while self._waiting:
                size = len(self._waiting[0].events)
                if taken and used + size > self.max_batch_events:
                    break
                write = self._waiting.popleft()
                self._waiting_events -= size
                taken.append(write)
                used += size
            if not self._waiting:
                self._later = False  # a caller took them: the thread has nothing to wake for
        return taken

    def _run(self, batch: list[_Write[Event]]) -> None:
        """One transaction for `batch`; then each caller's future (callbacks run here)."""
        if not batch:
            return
        try:
            results = self._write([write.events for write in batch])
            if len(results) != len(batch):
                raise AssertionError(f"{len(batch)} writes gave {len(results)} results")
        except BaseException as error:
            self._settle(batch, error=error)
            if not isinstance(error, Exception):
                raise
            return
        self.transactions += 1
        self._settle(batch, results)

    def _settle(self, batch: list[_Write[Event]], results: list[Results] | None = None,
                error: BaseException | None = None) -> None:
        try:
            for index, write in enumerate(batch):
                if results is not None:
                    write.results = results[index]
                else:
                    write.error = error
                write.settled = True
                if write.done is not None:
                    _call(write.done, results[index] if results is not None else error)
                elif write.future is not None and results is not None:
                    write.future.set_result(results[index])
                elif write.future is not None:
                    write.future.set_exception(error)
        finally:
            with self._mutex:
                self._unsettled -= len(batch)

    def _loop(self) -> None:
        """The writer thread: commit `add_later` writes (and whatever waits with them)."""
        while True:
            with self._queue:
                busy = self._queue.wait_for(lambda: self._later or self._closed,
                                            IDLE_SECONDS)  # clock-ok: an idle thread's lifetime
                if self._closed or not busy:
                    if self._thread is threading.current_thread():
                        self._thread = None
                    return
                self._later = False
            self.drain()
