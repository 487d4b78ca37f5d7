"""`timeledger.Client`: the sync SDK surface (activities, record, enqueue, flush, close)."""

from __future__ import annotations

import atexit
import logging
import random
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any

import httpx

from timeledger.caliper.metrics import Metrics
from timeledger.sdk.activity import Activity, Callbacks, Ending, Receipt
from timeledger.sdk.clock import Clock, FakeClock, SystemClock
from timeledger.sdk.core import ClientCore, ConfigSource
from timeledger.sdk.options import UNSET, TimeOptions, options_from_arguments
from timeledger.sdk.outbox import DeadLetter, OutboxRow
from timeledger.sdk.scheduler import ManualScheduler, Scheduler, ThreadScheduler
from timeledger.sdk.sender import Sender, SenderThread
from timeledger.sdk.surface import ClientSurface
from timeledger.sdk.tracking import ErrorCallback, FlushCallback, Waiter

log = logging.getLogger("timeledger.sdk")
_open_clients: weakref.WeakSet[Client] = weakref.WeakSet()


@atexit.register
def _close_open_clients() -> None:
    for client in list(_open_clients):
        try:
            client.close()
        except Exception:  # exit must go on for the other clients; logged
            log.exception("timeledger could not close a client at exit")


def wait_for_waiter(core: ClientCore, waiter: Waiter, timeout: float | None,
                    sender: Sender, worker: SenderThread | None) -> str | None:
    """Wait for a completion's fate: inline rounds without a worker, a bounded wait with one."""
    limit = core.options.completion_timeout if timeout is None else timeout
    try:
        if core.delivery.blocked():
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
        core.tracking.forget_waiter(waiter)


class ActivityNamespace:
    """`client.activity`: start a tracked activity, or record a completion from the backend."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def current(self) -> Activity | None:
        """The running activity, or None."""
        return self._client._core.current

    def start(self, *, id: str, name: str, course: Mapping[str, Any], user: Mapping[str, Any],
              run_id: str | uuid.UUID | None = None,
              time: TimeOptions | Mapping[str, Any] | bool | None = None,
              on_error: ErrorCallback | None = None, on_pause: Callable[[], None] | None = None,
              on_resume: Callable[[], None] | None = None,
              on_flush: FlushCallback | None = None) -> Activity:
        """Start tracking `id` (a slug) for `user` in `course`; heartbeats begin at once."""
        return self._client._core.begin(
            id=id, name=name, course=course, user=user, run_id=run_id, time=time,
            callbacks=Callbacks(on_error, on_pause, on_resume, on_flush))

    def record(self, *, user: Mapping[str, Any], activity: Mapping[str, Any],
               metrics: Mapping[str, Any] | Metrics, run_id: str | uuid.UUID | None = None,
               time: Mapping[str, Any] | None = None, wait: bool = True,
               timeout: float | None = None, on_error: ErrorCallback | None = None) -> Receipt:
        """A completion reported by the backend (and, with `time`, one TimeSpentEvent)."""
        core = self._client._core
        ending = core.record(user=user, activity=activity, metrics=metrics, run_id=run_id,
                             time=time, wait=wait, on_error=on_error)
        return self._client._settle(ending.receipt, ending.waiter, timeout)


class Client(ClientSurface):
    """The sync client. Every option may also come from `TIMELEDGER_<OPTION>` variables.

    >>> with Client(base_url="http://127.0.0.1:8000", client_id="app", client_secret="s",
    ...             config="timeback.config.json") as client:      # doctest: +SKIP
    ...     with client.activity.start(id="fractions-1", name="Fractions 1",
    ...                                course={"subject": "Math", "grade": 3},
    ...                                user={"email": "ada@example.edu"}) as activity:
    ...         ...
    ...         activity.end({"xp_earned": 5})
    """

    def __init__(self, base_url: str | None = None, *, client_id: str | None = None,
                 client_secret: str | None = None, token_url: str | None = None,
                 config: ConfigSource = None, env: str | None = None, sensor: str | None = None,
                 outbox: str | None = UNSET, clock: Clock | None = None,
                 scheduler: Scheduler | None = None,
                 transport: httpx.BaseTransport | None = None, background: bool | None = None,
                 on_error: ErrorCallback | None = None, rng: random.Random | None = None,
                 environ: Mapping[str, str] | None = None, **settings: Any) -> None:
        self.options = options_from_arguments(
            settings, environ, outbox=outbox, config=config, base_url=base_url,
            client_id=client_id, client_secret=client_secret, token_url=token_url, env=env,
            sensor=sensor)
        self.clock = clock or SystemClock()
        self._owns_scheduler = scheduler is None
        if scheduler is None:
            scheduler = (ManualScheduler(self.clock) if isinstance(self.clock, FakeClock)
                         else ThreadScheduler(self.clock))
        self.scheduler = scheduler
        self._core = ClientCore(self.options, config=config, clock=self.clock,
                                scheduler=scheduler, on_error=on_error, rng=rng)
        self._core.settler = self._settle_ending
        self._http = httpx.Client(transport=transport, timeout=self.options.request_timeout)
        self.sender = Sender(self._core.delivery, self._http)
        """Runs delivery rounds; `client.sender.run_once()` sends one batch now (tests)."""
        if background is None:
            background = not isinstance(self.clock, FakeClock)
        self._worker: SenderThread | None = None
        if background:
            self._worker = SenderThread(self.sender, batch_interval=self.options.batch_interval,
                                        poll_interval=self.options.poll_interval)
            self._core.wake = self._worker.wake
        self.activity = ActivityNamespace(self)
        self._closed = False
        self._flushed = False
        _open_clients.add(self)
        if self._worker is not None and self._core.outbox.count_pending():
            self._worker.wake(True)

    # ---- events (sensor, config, activity_ref, actor: ClientSurface) ------------------------
    def enqueue(self, event: Mapping[str, Any]) -> bool:
        """Durably queue one ready-made Caliper event (built with `timeledger.caliper.builders`).

        Returns False, queueing nothing, when an event with this id was ever queued before
        through this outbox (by any process), so a caller can answer `{"duplicate": true}`.
        """
        return self._core.enqueue(event)

    def pending(self) -> list[OutboxRow]:
        """Events queued and not yet acknowledged by the platform (dead letters excluded)."""
        return self._core.outbox.pending()

    def dead_letters(self) -> list[DeadLetter]:
        """Events given up on (refused, or failing alone, or too old); kept, never resent."""
        return self._core.outbox.dead()

    def flush(self, timeout: float | None = None) -> bool:
        """Try to deliver everything queued within `timeout` seconds; True when nothing is left."""
        limit = self.options.flush_timeout if timeout is None else timeout
        if self._worker is None:
            if not self._closed:
                self.sender.run_until_idle()
            return self._core.outbox.count_pending() == 0
        deadline = self.clock.monotonic() + limit
        while self._core.outbox.count_pending():
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                return False
            self._worker.wake(urgent=True)
            self._worker.wait_progress(min(remaining, 0.05))
        return True

    # ---- completion settling ------------------------------------------------------------------
    def _settle(self, receipt: Receipt, waiter: Waiter | None, timeout: float | None) -> Receipt:
        if waiter is None:
            return receipt
        outcome = wait_for_waiter(self._core, waiter, timeout, self.sender, self._worker)
        if outcome == "rejected" and waiter.error is not None:
            raise waiter.error
        return replace(receipt, delivered=outcome == "delivered")

    def _settle_ending(self, activity: Activity, ending: Ending,
                       timeout: float | None) -> Receipt:
        receipt = self._settle(ending.receipt, ending.waiter, timeout)
        activity.mark_ended()
        return receipt

    # ---- lifecycle --------------------------------------------------------------------------
    def close(self, timeout: float | None = None) -> bool:
        """End the current activity (time only), flush for up to `timeout` s, stop the sender.

        Returns True when everything was delivered; what was not stays in the outbox and is sent
        by the next client that opens it.
        """
        if self._closed:
            return self._flushed
        current = self._core.current
        if current is not None and not current.is_ended:
            try:
                current.end(wait=False)
            except Exception:  # closing goes on (events stay queued); logged
                log.exception("timeledger could not end the current activity at close")
        flushed = self._flushed = self.flush(timeout)
        self._closed = True
        self._core.closed = True
        if self._worker is not None:
            self._worker.stop()
        if self._owns_scheduler:
            self.scheduler.close()
        self._http.close()
        self._core.outbox.close()
        _open_clients.discard(self)
        return flushed

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
