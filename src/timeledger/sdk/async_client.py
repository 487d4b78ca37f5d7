"""`timeledger.AsyncClient`: the same surface as `Client`, with coroutines, on one asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from timeledger.caliper.metrics import Metrics
from timeledger.sdk.activity import Activity, Callbacks, Receipt
from timeledger.sdk.async_sender import AsyncSender, HeldListener, SenderTask
from timeledger.sdk.catalog import Catalog, CatalogMembers, ConfigSource
from timeledger.sdk.clock import Clock, FakeClock, SystemClock
from timeledger.sdk.options import UNSET, TimeOptions, checks_option_names, options_from_arguments
from timeledger.sdk.outbox import DeadLetter, OutboxRow
from timeledger.sdk.outbox_thread import OutboxThread
from timeledger.sdk.recorder import Recorder, no_sender
from timeledger.sdk.scheduler import AsyncioScheduler, ManualScheduler, NoTimers, Scheduler
from timeledger.sdk.tracking import ErrorCallback, FlushCallback, Tracking, Waiter

log = logging.getLogger("timeledger.sdk")
T = TypeVar("T")


def _ends_with_await(receipt: Receipt, waiter: Waiter | None, timeout: float | None) -> Receipt:
    raise TypeError("this client's activities end with `await activity.end(...)`")


class AsyncActivity:
    """An Activity whose `end()` is a coroutine; `pause`/`resume`/`touch` stay plain calls."""

    def __init__(self, client: AsyncClient, activity: Activity) -> None:
        self._client = client
        self.inner = activity

    run_id = property(lambda self: self.inner.run_id)
    run_key = property(lambda self: self.inner.run_key)
    ref = property(lambda self: self.inner.ref)

    @property
    def started_at(self) -> datetime:
        return self.inner.started_at

    @property
    def is_paused(self) -> bool:
        return self.inner.is_paused

    @property
    def is_ended(self) -> bool:
        return self.inner.is_ended

    @property
    def elapsed_ms(self) -> int:
        return self.inner.elapsed_ms

    @property
    def total_active_ms(self) -> int:
        return self.inner.total_active_ms

    def pause(self) -> None:
        self.inner.pause()

    def resume(self) -> None:
        self.inner.resume()

    def touch(self) -> None:
        self.inner.touch()

    async def end(self, metrics: Mapping[str, Any] | Metrics | None = None, *,
                  time: Mapping[str, Any] | None = None, wait: bool = True,
                  timeout: float | None = None) -> Receipt:
        """As `Activity.end`, awaiting the platform's acknowledgement of a completion."""
        ending = self.inner.prepare_end(metrics, time, wait)
        await asyncio.wrap_future(ending.queued.written)
        receipt = await self._client._settle(ending.receipt, ending.queued.waiter, timeout)
        self.inner.mark_ended()
        return receipt

    async def __aenter__(self) -> AsyncActivity:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.is_ended:
            return
        if exc is None:
            await self.end()
            return
        try:
            await self.end()
        except Exception:  # the app's exception wins; this one is logged
            log.exception("timeledger could not end the activity after an exception")


class AsyncActivityNamespace:
    """`client.activity` of an AsyncClient."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._current: AsyncActivity | None = None

    @property
    def current(self) -> AsyncActivity | None:
        running = self._client._recorder.current
        if running is None or self._current is None or self._current.inner is not running:
            return None
        return self._current

    async def start(self, *, id: str, name: str, course: Mapping[str, Any],
                    user: Mapping[str, Any], run_id: str | uuid.UUID | None = None,
                    time: TimeOptions | Mapping[str, Any] | bool | None = None,
                    on_error: ErrorCallback | None = None,
                    on_pause: Callable[[], None] | None = None,
                    on_resume: Callable[[], None] | None = None,
                    on_flush: FlushCallback | None = None) -> AsyncActivity:
        self._client._ensure_worker()
        activity = self._client._recorder.begin(
            id=id, name=name, course=course, user=user, run_id=run_id, time=time,
            callbacks=Callbacks(on_error, on_pause, on_resume, on_flush))
        self._current = AsyncActivity(self._client, activity)
        return self._current

    async def record(self, *, user: Mapping[str, Any], activity: Mapping[str, Any],
                     metrics: Mapping[str, Any] | Metrics, run_id: str | uuid.UUID | None = None,
                     time: Mapping[str, Any] | None = None, wait: bool = True,
                     timeout: float | None = None,
                     on_error: ErrorCallback | None = None) -> Receipt:
        self._client._ensure_worker()
        ending = self._client._recorder.record(
            user=user, activity=activity, metrics=metrics, run_id=run_id, time=time, wait=wait,
            on_error=on_error)
        await asyncio.wrap_future(ending.queued.written)
        return await self._client._settle(ending.receipt, ending.queued.waiter, timeout)


class AsyncClient(CatalogMembers):
    """The asyncio client: same options and behaviour as `Client`; use `async with`.

    Every outbox call (SQLite) runs on one thread of the client's own, never on the loop.
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
                 transport: httpx.AsyncBaseTransport | None = None,
                 background: bool | None = None, on_error: ErrorCallback | None = None,
                 rng: random.Random | None = None,
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
        if scheduler is None:
            scheduler = (ManualScheduler(clock) if isinstance(clock, FakeClock)
                         else AsyncioScheduler() if options.enabled else NoTimers())
        self.scheduler = scheduler
        self._thread = OutboxThread()
        self._tracking = Tracking(on_error, options.retry_attempts)
        self._outbox = options.new_outbox(clock, self._tracking, open_now=False)
        self._opened: Future[None] | None = (
            self._thread.submit(self._outbox.open) if options.enabled else None)
        held = HeldListener(self._tracking)
        self._http = httpx.AsyncClient(transport=transport, timeout=options.request_timeout)
        self.sender = AsyncSender(options.new_delivery(self._outbox, clock, held, rng),
                                  self._http, self._thread, held)
        if background is None:
            background = not isinstance(clock, FakeClock)
        self._worker: SenderTask | None = None
        if background and options.enabled:
            self._worker = SenderTask(self.sender, batch_interval=options.batch_interval,
                                      poll_interval=options.poll_interval)
        self._recorder = Recorder(
            options, self._catalog, outbox=self._outbox, tracking=self._tracking, clock=clock,
            scheduler=scheduler, writes_on_caller=False,
            wake=self._worker.wake if self._worker is not None else no_sender,
            settle=_ends_with_await)
        self.activity = AsyncActivityNamespace(self)
        self._closed = False
        self._flushed = False

    @property
    def outbox_path(self) -> str:
        """The outbox file (`:memory:` when events are kept in memory, or when disabled)."""
        return self._outbox.path

    def _ensure_worker(self) -> SenderTask | None:
        """The background sender, started on the running loop (None without one)."""
        if self._worker is None or self._closed or not self._worker.start():
            return None
        return self._worker

    async def _off_loop(self, call: Callable[[], T]) -> T:
        """An outbox call on the outbox thread (at once when disabled: nothing is stored)."""
        if not self.options.enabled:
            return call()
        return await self._thread.run(call)

    async def enqueue(self, event: Mapping[str, Any]) -> bool:
        """As `Client.enqueue`."""
        self._ensure_worker()
        return await asyncio.wrap_future(self._recorder.enqueue(event))

    async def pending(self) -> list[OutboxRow]:
        return await self._off_loop(self._outbox.pending)

    async def dead_letters(self) -> list[DeadLetter]:
        """As `Client.dead_letters`."""
        return await self._off_loop(self._outbox.dead)

    async def flush(self, timeout: float | None = None) -> bool:
        limit = self.options.flush_timeout if timeout is None else timeout
        worker = self._ensure_worker()
        if worker is None:
            if not self._closed and self.options.enabled:
                await self.sender.run_until_idle()
            return await self._off_loop(self._outbox.count_pending) == 0
        deadline = self.clock.monotonic() + limit
        while await self._off_loop(self._outbox.count_pending):
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                return False
            worker.wake(urgent=True)
            await worker.wait_progress(min(remaining, 0.05))
        return True

    async def _settle(self, receipt: Receipt, waiter: Waiter | None,
                      timeout: float | None) -> Receipt:
        if waiter is None:
            return receipt
        limit = self.options.completion_timeout if timeout is None else timeout
        try:
            if not self.sender.delivery.blocked():
                worker = self._ensure_worker()
                if worker is None:
                    while waiter.outcome is None:
                        step = await self.sender.run_once()
                        if step.idle or step.blocked_until is not None:
                            break
                else:
                    loop = asyncio.get_running_loop()
                    done: asyncio.Future[None] = loop.create_future()

                    def _resolve() -> None:
                        if not done.done():
                            done.set_result(None)

                    def _wake_loop() -> None:
                        loop.call_soon_threadsafe(_resolve)

                    waiter.add_done_callback(_wake_loop)
                    worker.wake(urgent=True)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(limit):
                            await done
        finally:
            self._tracking.forget_waiter(waiter)
        if waiter.outcome == "rejected" and waiter.error is not None:
            raise waiter.error
        return replace(receipt, delivered=waiter.outcome == "delivered")

    async def close(self, timeout: float | None = None) -> bool:
        """End the current activity (time only), flush within `timeout`, stop the sender."""
        if self._closed:
            return self._flushed
        current = self.activity.current
        if current is not None and not current.is_ended:
            try:
                await current.end(wait=False)
            except Exception:  # closing goes on (events stay queued); logged
                log.exception("timeledger could not end the current activity at close")
        self._flushed = await self.flush(timeout)
        self._closed = True
        self._recorder.closed = True
        if self._worker is not None:
            await self._worker.stop()
        self.scheduler.close()
        await self._http.aclose()
        try:
            await self._off_loop(self._outbox.close)
        finally:
            self._thread.shutdown()
        return self._flushed

    async def __aenter__(self) -> AsyncClient:
        """Opens the outbox (off the loop; a file it cannot use raises here) and starts the
        sender."""
        if self._opened is not None:
            await asyncio.wrap_future(self._opened)
        self._ensure_worker()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()
