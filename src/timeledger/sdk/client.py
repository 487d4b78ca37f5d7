"""`timeledger.Client`: the sync SDK surface (activities, record, enqueue, flush, close)."""

from __future__ import annotations

import atexit
import logging
import random
import uuid
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import replace
from types import TracebackType
from typing import Any

import httpx

from timeledger.caliper.metrics import Metrics
from timeledger.sdk.activity import Activity, Callbacks, Receipt
from timeledger.sdk.catalog import Catalog, CatalogMembers, ConfigSource
from timeledger.sdk.clock import Clock, FakeClock, SystemClock
from timeledger.sdk.delivery import Delivery
from timeledger.sdk.options import UNSET, TimeOptions, checks_option_names, options_from_arguments
from timeledger.sdk.outbox import DeadLetter, OutboxRow
from timeledger.sdk.recorder import Recorder, no_sender
from timeledger.sdk.scheduler import ManualScheduler, NoTimers, Scheduler, ThreadScheduler
from timeledger.sdk.sender import Sender, SenderThread
from timeledger.sdk.tracking import ErrorCallback, FlushCallback, Tracking, Waiter

log = logging.getLogger("timeledger.sdk")
_open_clients: weakref.WeakSet[Client] = weakref.WeakSet()


@atexit.register
def _close_open_clients() -> None:
    for client in list(_open_clients):
        try:
            client.close()
        except Exception:  # exit must go on for the other clients; logged
            log.exception("timeledger could not close a client at exit")


def wait_for_waiter(delivery: Delivery, tracking: Tracking, waiter: Waiter, limit: float,
                    sender: Sender, worker: SenderThread | None) -> str | None:
    """Wait for a completion's fate: inline rounds without a worker, a bounded wait with one."""
    try:
        if delivery.blocked():
            return None
        if worker is None:
            while waiter.outcome is None:
                step = sender.run_once()
                if step.idle or step.blocked_until is not None:
                    break
        else:
            worker.wake(urgent=True)
            waiter.wait(limit)
        return waiter.outcome
    finally:
        tracking.forget_waiter(waiter)


class ActivityNamespace:
    """`client.activity`: start a tracked activity, or record a completion from the backend."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def current(self) -> Activity | None:
        """The running activity, or None."""
        return self._client._recorder.current

    def start(self, *, id: str, name: str, course: Mapping[str, Any], user: Mapping[str, Any],
              run_id: str | uuid.UUID | None = None,
              time: TimeOptions | Mapping[str, Any] | bool | None = None,
              on_error: ErrorCallback | None = None, on_pause: Callable[[], None] | None = None,
              on_resume: Callable[[], None] | None = None,
              on_flush: FlushCallback | None = None) -> Activity:
        """Start tracking `id` (a slug) for `user` in `course`; heartbeats begin at once."""
        return self._client._recorder.begin(
            id=id, name=name, course=course, user=user, run_id=run_id, time=time,
            callbacks=Callbacks(on_error, on_pause, on_resume, on_flush))

    def record(self, *, user: Mapping[str, Any], activity: Mapping[str, Any],
               metrics: Mapping[str, Any] | Metrics, run_id: str | uuid.UUID | None = None,
               time: Mapping[str, Any] | None = None, wait: bool = True,
               timeout: float | None = None, on_error: ErrorCallback | None = None) -> Receipt:
        """A completion reported by the backend (and, with `time`, one TimeSpentEvent)."""
        ending = self._client._recorder.record(
            user=user, activity=activity, metrics=metrics, run_id=run_id, time=time, wait=wait,
            on_error=on_error)
        ending.queued.written.result()  # durable before returning
        return self._client._settle(ending.receipt, ending.queued.waiter, timeout)


class Client(CatalogMembers):
    """The sync client. Every option may also come from `TIMELEDGER_<OPTION>` variables.

    >>> with Client(base_url="http://127.0.0.1:8000", client_id="app", client_secret="s",
    ...             config="timeback.config.json") as client:      # doctest: +SKIP
    ...     with client.activity.start(id="fractions-1", name="Fractions 1",
    ...                                course={"subject": "Math", "grade": 3},
    ...                                user={"email": "ada@example.edu"}) as activity:
    ...         ...
    ...         activity.end({"xp_earned": 5})
    """

    @checks_option_names
    def __init__(self, base_url: str | None = None, *, client_id: str | None = None,
                 client_secret: str | None = None, token_url: str | None = None,
                 config: ConfigSource = None, env: str | None = None, sensor: str | None = None,
                 roster_base: str | None = None, outbox: str | None = UNSET,
                 flush_timeout: float | None = None, completion_timeout: float | None = None,
                 request_timeout: float | None = None, max_batch_events: int | None = None,
                 max_batch_bytes: int | None = None, batch_interval: float | None = None,
                 poll_interval: float | None = None, max_backoff: float | None = None,
                 lease_seconds: float | None = None, seen_retention: float | None = None,
                 retry_attempts: int | None = None, max_failures_alone: int | None = None,
                 max_event_age: float | None = None, max_outbox_events: int | None = None,
                 heartbeat_interval: float | None = None, hidden_timeout: float | None = None,
                 idle_timeout: float | None = None, enabled: bool | None = None,
                 clock: Clock | None = None, scheduler: Scheduler | None = None,
                 transport: httpx.BaseTransport | None = None, background: bool | None = None,
                 on_error: ErrorCallback | None = None, rng: random.Random | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.options = options = options_from_arguments(
            environ, outbox=outbox, config=config, enabled=enabled, base_url=base_url,
            client_id=client_id, client_secret=client_secret, token_url=token_url, env=env,
            sensor=sensor, roster_base=roster_base, flush_timeout=flush_timeout,
            completion_timeout=completion_timeout, request_timeout=request_timeout,
            max_batch_events=max_batch_events, max_batch_bytes=max_batch_bytes,
            batch_interval=batch_interval, poll_interval=poll_interval, max_backoff=max_backoff,
            lease_seconds=lease_seconds, seen_retention=seen_retention,
            retry_attempts=retry_attempts, max_failures_alone=max_failures_alone,
            max_event_age=max_event_age, max_outbox_events=max_outbox_events,
            heartbeat_interval=heartbeat_interval, hidden_timeout=hidden_timeout,
            idle_timeout=idle_timeout)
        self.clock = clock = clock or SystemClock()
        self._catalog = Catalog(options, config)
        self._owns_scheduler = scheduler is None
        if scheduler is None:
            scheduler = (ManualScheduler(clock) if isinstance(clock, FakeClock)
                         else ThreadScheduler(clock) if options.enabled else NoTimers())
        self.scheduler = scheduler
        self._tracking = Tracking(on_error, options.retry_attempts)
        self._outbox = options.new_outbox(clock, self._tracking)
        self._http = httpx.Client(transport=transport, timeout=options.request_timeout)
        self.sender = Sender(options.new_delivery(self._outbox, clock, self._tracking, rng),
                             self._http)
        """Runs delivery rounds; `client.sender.run_once()` sends one batch now (tests)."""
        if background is None:
            background = not isinstance(clock, FakeClock)
        self._worker: SenderThread | None = None
        if background and options.enabled:
            self._worker = SenderThread(self.sender, batch_interval=options.batch_interval,
                                        poll_interval=options.poll_interval)
        self._recorder = Recorder(
            options, self._catalog, outbox=self._outbox, tracking=self._tracking, clock=clock,
            scheduler=scheduler, writes_on_caller=True,
            wake=self._worker.wake if self._worker is not None else no_sender,
            settle=self._settle)
        self.activity = ActivityNamespace(self)
        self._closed = False
        self._flushed = False
        _open_clients.add(self)
        if self._worker is not None and self._outbox.count_pending():
            self._worker.wake(True)  # what an earlier process left

    @property
    def outbox_path(self) -> str:
        """The outbox file (`:memory:` when events are kept in memory, or when disabled)."""
        return self._outbox.path

    def enqueue(self, event: Mapping[str, Any]) -> bool:
        """Durably queue one ready-made Caliper event (built with `timeledger.caliper.builders`).

        Returns False, queueing nothing, when an event with this id was ever queued before
        through this outbox (by any process), so a caller can answer `{"duplicate": true}`.
        """
        return self._recorder.enqueue_now(event)

    def enqueue_later(self, event: Mapping[str, Any]) -> Future[bool]:
        """As `enqueue`, without blocking: the future resolves (True, or False for an id queued
        before) once the event is durable. The outbox's writer thread writes it together with
        whatever else waits, so a server awaiting this on its event loop (the Starlette adapter
        does) commits concurrent requests in one transaction."""
        return self._recorder.enqueue(event, on_caller=False)

    def pending(self) -> list[OutboxRow]:
        """Events queued and not yet acknowledged by the platform (dead letters excluded)."""
        return self._outbox.pending()

    def dead_letters(self) -> list[DeadLetter]:
        """Events given up on (refused, or failing alone, or too old); kept, never resent."""
        return self._outbox.dead()

    def flush(self, timeout: float | None = None) -> bool:
        """Try to deliver everything queued within `timeout` seconds; True when nothing is left."""
        limit = self.options.flush_timeout if timeout is None else timeout
        if self._worker is None:
            if not self._closed:
                self.sender.run_until_idle()
            return self._outbox.count_pending() == 0
        deadline = self.clock.monotonic() + limit
        while self._outbox.count_pending():
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                return False
            self._worker.wake(urgent=True)
            self._worker.wait_progress(min(remaining, 0.05))
        return True

    # ---- completion settling ------------------------------------------------------------------
    def _settle(self, receipt: Receipt, waiter: Waiter | None, timeout: float | None) -> Receipt:
        """Wait for a completion's fate (see `Activity.end`); raise its rejection."""
        if waiter is None:
            return receipt
        limit = self.options.completion_timeout if timeout is None else timeout
        outcome = wait_for_waiter(self.sender.delivery, self._tracking, waiter, limit,
                                  self.sender, self._worker)
        if outcome == "rejected" and waiter.error is not None:
            raise waiter.error
        return replace(receipt, delivered=outcome == "delivered")

    # ---- lifecycle --------------------------------------------------------------------------
    def close(self, timeout: float | None = None) -> bool:
        """End the current activity (time only), flush for up to `timeout` s, stop the sender.

        Returns True when everything was delivered; what was not stays in the outbox and is sent
        by the next client that opens it.
        """
        if self._closed:
            return self._flushed
        current = self._recorder.current
        if current is not None and not current.is_ended:
            try:
                current.end(wait=False)
            except Exception:  # closing goes on (events stay queued); logged
                log.exception("timeledger could not end the current activity at close")
        flushed = self._flushed = self.flush(timeout)
        self._closed = True
        self._recorder.closed = True
        if self._worker is not None:
            self._worker.stop()
        if self._owns_scheduler:
            self.scheduler.close()
        self._http.close()
        self._outbox.close()
        _open_clients.discard(self)
        return flushed

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
