"""Turns what the app reports into queued events: activities, completions, ready-made events.

The `Recorder` checks the input, builds the Caliper events, writes them through the outbox's group
commit, registers what the app asked to hear about them, and wakes the sender once they are
written. A heartbeat timer's window is handed to the outbox's writer thread (`Outbox.add_soon`,
with a callback rather than a future: the app's thread never waits on SQLite for a heartbeat).
`Client` writes `end()`, `record()` and `enqueue()` on the caller's thread (`Outbox.add`, joining
whatever commit other threads are making); `AsyncClient` hands every write to the writer thread
and awaits `Queued.written`. It never waits for delivery: each client decides how to wait
(`settle`).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from timeledger.caliper.builders import (
    RunRef,
    completed_event,
    stable_event_id,
    time_spent_event,
)
from timeledger.caliper.metrics import Metrics
from timeledger.caliper.times import format_utc
from timeledger.sdk.activity import Activity, Callbacks, Ending, Queued, Receipt, Settle
from timeledger.sdk.catalog import Catalog
from timeledger.sdk.clock import Clock
from timeledger.sdk.errors import (
    ActivityInProgressError,
    ClientClosedError,
    EventKind,
    RejectedError,
    ValidationError,
)
from timeledger.sdk.options import ClientOptions, TimeOptions
from timeledger.sdk.outbox import NewEvent, Outbox
from timeledger.sdk.scheduler import Scheduler
from timeledger.sdk.tracking import ErrorCallback, Tracking, Waiter, Watch
from timeledger.sdk.validation import (
    check_activity,
    check_metrics,
    check_record_time,
    check_run_id,
)

T = TypeVar("T")
QueueItem = tuple[dict[str, Any], EventKind, Watch]
_KINDS: dict[str, EventKind] = {"TimeSpentEvent": "heartbeat", "ActivityEvent": "completion"}


def no_sender(urgent: bool) -> None:
    """The `wake` of a client without a background sender: the app drives delivery."""


def done(value: T) -> Future[T]:
    future: Future[T] = Future()
    future.set_result(value)
    return future


class Recorder:
    """Starts activities and queues events; with `enabled=False` it checks input, writes nothing."""

    def __init__(self, options: ClientOptions, catalog: Catalog, *, outbox: Outbox,
                 tracking: Tracking, clock: Clock, scheduler: Scheduler,
                 writes_on_caller: bool, wake: Callable[[bool], None], settle: Settle) -> None:
        self.options = options
        self.catalog = catalog
        self.outbox = outbox
        self.tracking = tracking
        self.clock = clock
        self.scheduler = scheduler
        self.writes_on_caller = writes_on_caller
        self.wake = wake
        self.settle = settle
        self.enabled = options.enabled
        self.current: Activity | None = None
        self.closed = False
        self._lock = threading.Lock()

    # ---- activities ---------------------------------------------------------------------------
    def begin(self, *, id: str, name: str, course: Mapping[str, Any], user: Mapping[str, Any],
              run_id: str | uuid.UUID | None, time: TimeOptions | Mapping[str, Any] | bool | None,
              callbacks: Callbacks) -> Activity:
        """Validate and start an activity (the one current activity of this client)."""
        self.check_open()
        ref, sensor = self.catalog.activity_ref(id, name, course)
        actor = self.catalog.actor(user, sensor)
        run = check_run_id(run_id, sensor) if run_id is not None else RunRef(str(uuid.uuid4()))
        options = TimeOptions.coerce(time, self.options.time_defaults())
        with self._lock:
            if self.current is not None:
                raise ActivityInProgressError(self.current.run_id)
            activity = Activity(self, ref=ref, actor=actor, run=run, sensor=sensor,
                                options=options, callbacks=callbacks, settle=self.settle)
            self.current = activity
        return activity

    def release(self, activity: Activity) -> None:
        with self._lock:
            if self.current is activity:
                self.current = None

    def record(self, *, user: Mapping[str, Any], activity: Mapping[str, Any],
               metrics: Mapping[str, Any] | Metrics, run_id: str | uuid.UUID | None,
               time: Mapping[str, Any] | None, wait: bool,
               on_error: ErrorCallback | None) -> Ending:
        """Check and queue a server-side completion (with `time`, its TimeSpentEvent first)."""
        self.check_open()
        slug, name, course = check_activity(activity)
        ref, sensor = self.catalog.activity_ref(slug, name, course, prefix="activity.")
        actor = self.catalog.actor(user, sensor)
        checked = check_metrics(metrics)
        run = check_run_id(run_id, sensor) if run_id is not None else RunRef(str(uuid.uuid4()))
        window = check_record_time(time) if time is not None else None
        items: list[QueueItem] = []
        ended_at = self.clock.now()
        if window is not None:
            ended_at = window.ended_at
            event = time_spent_event(
                actor=actor, activity=ref, run_id=run.id, run_key=run.key,
                started_at=window.started_at, ended_at=window.ended_at,
                active_ms=window.active_ms, inactive_ms=window.inactive_ms,
                event_id=stable_event_id(run.id, format_utc(window.started_at)))
            items.append((event, "heartbeat", Watch("heartbeat", on_error=on_error)))
        completion_id = stable_event_id(run.id, "completed", format_utc(ended_at))
        items.append((completed_event(actor=actor, activity=ref, run_id=run.id, run_key=run.key,
                                      ended_at=ended_at, metrics=checked,
                                      event_id=completion_id),
                      "completion", Watch("completion", on_error=on_error)))
        queued = self.queue(items, wait_for=completion_id if wait else None)
        ids = tuple(str(event["id"]) for event, _, _ in items)
        return Ending(Receipt(run.id, ids, completion_id, None, run.key), queued)

    # ---- queueing -----------------------------------------------------------------------------
    def check_open(self) -> None:
        if self.closed:
            raise ClientClosedError("This client is closed")

    def queue(self, items: Sequence[QueueItem], wait_for: str | None = None) -> Queued:
        """Write events to the outbox in one transaction, then wake the sender.

        For `AsyncClient` they are handed to the outbox's writer thread and this returns at once;
        `Queued.written` resolves when they are durable. For `Client` (`end()` and `record()`)
        they are written on this thread. The waiter
        (for `wait_for`) exists at once.
        """
        self.check_open()
        if not items or not self.enabled:
            return Queued(None, done([True] * len(items)))
        waiter = self.tracking.waiter(wait_for) if wait_for is not None else None
        rows = []
        for event, kind, watch in items:
            self.tracking.watch(str(event["id"]), watch)
            rows.append(NewEvent.of(event, kind, self.catalog.row_sensor(event)))

        try:
            if not self.writes_on_caller:
                written = self.outbox.add_later(rows)
            else:
                written = done(self.outbox.add(rows))
        except BaseException:
            self._forget(rows)
            raise

        def settled(write: Future[list[bool]]) -> None:
            if write.exception() is not None:
                self._forget(rows)  # not in the outbox: nobody waits for them
                return
            added = write.result()
            for row, fresh in zip(rows, added, strict=True):
                if not fresh:
                    self.tracking.forget(row.event_id)
            fresh_ids = {row.event_id for row, fresh in zip(rows, added, strict=True) if fresh}
            if waiter is not None and wait_for not in fresh_ids:
                self.tracking.forget_waiter(waiter)
                self._settle_from_outbox(waiter)
            self.wake(wait_for is not None)

        written.add_done_callback(settled)
        return Queued(waiter, written)

    def queue_heartbeat(self, event: dict[str, Any], watch: Watch,
                        failed: Callable[[Exception], None]) -> None:
        """A heartbeat timer's window: handed to the outbox's writer thread without a future;
        `failed(error)` is called (on the writer thread) when its write fails."""
        self.check_open()
        if not self.enabled:
            return
        event_id = event["id"]
        self.tracking.watch(event_id, watch)
        row = NewEvent.of(event, "heartbeat", self.catalog.row_sensor(event))

        def written(outcome: list[bool] | Exception) -> None:
            if isinstance(outcome, Exception):
                self.tracking.forget(event_id)  # not in the outbox: nobody waits for it
                failed(outcome)
                return
            if not outcome[0]:
                self.tracking.forget(event_id)
            self.wake(False)

        try:
            self.outbox.add_soon([row], written)
        except BaseException:
            self.tracking.forget(event_id)
            raise

    def _forget(self, rows: Sequence[NewEvent]) -> None:
        for row in rows:
            self.tracking.forget(row.event_id)

    def _settle_from_outbox(self, waiter: Waiter) -> None:
        """A completion queued before (same id): settle from what the outbox knows of it."""
        state, error = self.outbox.state(waiter.event_id) or ("pending", None)
        if state == "dead":
            waiter.settle("rejected", RejectedError(error or "rejected earlier"))
        else:
            waiter.settle("delivered" if state == "delivered" else "failed")

    def enqueue(self, event: Mapping[str, Any], on_caller: bool | None = None) -> Future[bool]:
        """Durably queue one ready-made Caliper event; False when its id was queued before.

        `on_caller` (default: the client's way) writes it on this thread, else the future
        resolves once the writer thread has written it."""
        row = self._ready_made(event)
        if row is None:
            return done(True)
        if self.writes_on_caller if on_caller is None else on_caller:
            return done(self._write_now(row))
        result: Future[bool] = Future()

        def written(outcome: list[bool] | Exception) -> None:
            if not isinstance(outcome, Exception) and outcome[0]:
                self.wake(False)
            if not result.set_running_or_notify_cancel():
                return  # the caller gave up waiting (a request whose client went away)
            if isinstance(outcome, Exception):
                result.set_exception(outcome)
            else:
                result.set_result(outcome[0])

        self.outbox.add_soon([row], written)
        return result

    def enqueue_now(self, event: Mapping[str, Any]) -> bool:
        """`enqueue` on this thread, without a future (`Client.enqueue`, the adapter's write)."""
        row = self._ready_made(event)
        return True if row is None else self._write_now(row)

    def _ready_made(self, event: Mapping[str, Any]) -> NewEvent | None:
        """The outbox row of a ready-made event (None when the client records nothing)."""
        self.check_open()
        if not isinstance(event, Mapping):
            raise ValidationError("event", "Expected a Caliper event (a dict)")
        event_id = event.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise ValidationError("event.id", "Expected the event's id (urn:uuid:...)")
        kind = _KINDS.get(str(event.get("type")), "event")
        row = NewEvent.of(event if type(event) is dict else dict(event), kind,
                          self.catalog.row_sensor(event))
        return row if self.enabled else None

    def _write_now(self, row: NewEvent) -> bool:
        fresh = self.outbox.add([row])[0]
        if fresh:
            self.wake(False)
        return fresh
