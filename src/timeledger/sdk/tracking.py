"""What the app asked to hear about each queued event: callbacks, and waiters for completions."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from timeledger.sdk.errors import DeliveryError, ErrorContext, EventKind, EventsDroppedError
from timeledger.sdk.outbox import Dropped, OutboxRow

log = logging.getLogger("timeledger.sdk")

ErrorCallback = Callable[[Exception, ErrorContext], None]
FlushCallback = Callable[[int], None]
Outcome = Literal["delivered", "rejected", "failed"]


@dataclass(slots=True)
class Watch:
    """Callbacks for one event; `retry_attempts` transient failures pass before `on_error`."""

    kind: EventKind
    on_error: ErrorCallback | None = None
    on_flush: FlushCallback | None = None
    active_ms: int = 0
    retry_attempts: int | None = None


@dataclass(slots=True)
class Waiter:
    """Settles once: delivered, rejected (with the error), or failed (a transient outage)."""

    event_id: str
    outcome: Outcome | None = None
    error: DeliveryError | None = None
    _done: threading.Event = field(default_factory=threading.Event)
    _callbacks: list[Callable[[], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def settle(self, outcome: Outcome, error: DeliveryError | None = None) -> None:
        with self._lock:
            if self.outcome is not None:
                return
            self.outcome, self.error = outcome, error
            callbacks = list(self._callbacks)
        self._done.set()
        for callback in callbacks:
            callback()

    def add_done_callback(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if self.outcome is None:
                self._callbacks.append(callback)
                return
        callback()

    def wait(self, timeout: float | None) -> bool:
        """Block the calling thread until settled (background sender only)."""
        return self._done.wait(timeout)  # clock-ok: a real wait on the sender thread's progress


def _safely(callback: Callable[..., None], *args: object) -> None:
    try:
        callback(*args)
    except Exception:  # an app callback must not stop the sender; logged
        log.exception("timeledger callback %r raised", callback)


class Tracking:
    """The delivery listener: calls `on_flush` / `on_error`, settles waiters."""

    def __init__(self, on_error: ErrorCallback | None = None, retry_attempts: int = 3) -> None:
        self.on_error = on_error
        self.retry_attempts = retry_attempts
        self._watches: dict[str, Watch] = {}
        self._waiters: dict[str, Waiter] = {}
        self._lock = threading.Lock()

    def watch(self, event_id: str, watch: Watch) -> None:
        with self._lock:
            self._watches[event_id] = watch

    def waiter(self, event_id: str) -> Waiter:
        with self._lock:
            waiter = self._waiters[event_id] = Waiter(event_id)
        return waiter

    def forget_waiter(self, waiter: Waiter) -> None:
        with self._lock:
            if self._waiters.get(waiter.event_id) is waiter:
                del self._waiters[waiter.event_id]

    def forget(self, event_id: str) -> None:
        with self._lock:
            self._watches.pop(event_id, None)
            self._waiters.pop(event_id, None)

    def _report(self, watch: Watch | None, row: OutboxRow, error: DeliveryError,
                dead: bool) -> None:
        callback = (watch.on_error if watch and watch.on_error else None) or self.on_error
        context = ErrorContext(kind=row.kind, event_id=row.event_id, run_id=row.run_id,
                               attempts=row.attempts, dead=dead)
        if callback is None:
            log.warning("timeledger: %s %s %s: %s", row.kind, row.event_id,
                        "rejected" if dead else "not delivered yet", error)
            return
        _safely(callback, error, context)

    def delivered(self, rows: Sequence[OutboxRow]) -> None:
        for row in rows:
            with self._lock:
                watch = self._watches.pop(row.event_id, None)
                waiter = self._waiters.pop(row.event_id, None)
            if watch is not None and watch.kind == "heartbeat" and watch.on_flush is not None:
                _safely(watch.on_flush, watch.active_ms)
            if waiter is not None:
                waiter.settle("delivered")

    def rejected(self, row: OutboxRow, error: DeliveryError) -> None:
        with self._lock:
            watch = self._watches.pop(row.event_id, None)
            waiter = self._waiters.pop(row.event_id, None)
        self._report(watch, row, error, dead=True)
        if waiter is not None:
            waiter.settle("rejected", error)

    def dropped(self, dropped: Dropped, limit: int) -> None:
        """The outbox dropped events to stay within its bound: tell each `on_error` once."""
        with self._lock:
            watches = [self._watches.pop(event_id, None) for event_id in dropped.event_ids]
            for event_id in dropped.event_ids:
                self._waiters.pop(event_id, None)
        callbacks = {id(c): c for c in (w.on_error for w in watches if w) if c is not None}
        if not callbacks and self.on_error is not None:
            callbacks = {0: self.on_error}
        error = EventsDroppedError(dropped.event_ids, dropped.kinds, limit)
        first = dropped.event_ids[0]
        kind: EventKind = "heartbeat" if "heartbeat" in dropped.kinds else "event"
        context = ErrorContext(kind=kind, event_id=first, run_id=None, attempts=0, dead=True)
        if not callbacks:
            log.warning("timeledger: %s", error)
        for callback in callbacks.values():
            _safely(callback, error, context)

    def failed(self, rows: Sequence[OutboxRow], error: DeliveryError) -> None:
        """A transient failure: report an event once its retries are spent; release all waiters."""
        for row in rows:
            with self._lock:
                watch = self._watches.get(row.event_id)
            limit = watch.retry_attempts if watch and watch.retry_attempts is not None \
                else self.retry_attempts
            if row.attempts == limit + 1:
                self._report(watch, row, error, dead=False)
        with self._lock:
            waiters = list(self._waiters.values())
            self._waiters.clear()
        for waiter in waiters:
            waiter.settle("failed", error)
