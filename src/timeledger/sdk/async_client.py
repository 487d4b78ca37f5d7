"""`timeledger.AsyncClient`: the same surface as `Client`, with coroutines, on one asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from timeledger.caliper.metrics import Metrics
from timeledger.sdk.activity import Activity, Callbacks, Receipt
from timeledger.sdk.async_sender import AsyncSender, SenderTask
from timeledger.sdk.clock import Clock, FakeClock, SystemClock
from timeledger.sdk.core import ClientCore, ConfigSource
from timeledger.sdk.options import UNSET, TimeOptions, options_from_arguments
from timeledger.sdk.outbox import DeadLetter, OutboxRow
from timeledger.sdk.scheduler import AsyncioScheduler, ManualScheduler, Scheduler
from timeledger.sdk.surface import ClientSurface
from timeledger.sdk.tracking import ErrorCallback, FlushCallback, Waiter

log = logging.getLogger("timeledger.sdk")


class AsyncActivity:
    """An Activity whose `end()` is a coroutine; `pause`/`resume`/`touch` stay plain calls."""

    def __init__(self, client: AsyncClient, activity: Activity) -> None:
        self._client = client
        self.inner = activity

    run_id = property(lambda self: self.inner.run_id)
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
        receipt = await self._client._settle(ending.receipt, ending.waiter, timeout)
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
        running = self._client._core.current
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
        activity = self._client._core.begin(
            id=id, name=name, course=course, user=user, run_id=run_id, time=time,
            callbacks=Callbacks(on_error, on_pause, on_resume, on_flush))
        self._current = AsyncActivity(self._client, activity)
        return self._current

    async def record(self, *, user: Mapping[str, Any], activity: Mapping[str, Any],
                     metrics: Mapping[str, Any] | Metrics, run_id: str | uuid.UUID | None = None,
                     time: Mapping[str, Any] | None = None, wait: bool = True,
                     timeout: float | None = None,
                     on_error: ErrorCallback | None = None) -> Receipt:
        core = self._client._core
        self._client._ensure_worker()
        ending = core.record(user=user, activity=activity, metrics=metrics, run_id=run_id,
                             time=time, wait=wait, on_error=on_error)
        return await self._client._settle(ending.receipt, ending.waiter, timeout)


class AsyncClient(ClientSurface):
    """The asyncio client: same options and behaviour as `Client`; use `async with`."""

    def __init__(self, base_url: str | None = None, *, client_id: str | None = None,
                 client_secret: str | None = None, token_url: str | None = None,
                 config: ConfigSource = None, env: str | None = None, sensor: str | None = None,
                 outbox: str | None = UNSET, clock: Clock | None = None,
                 scheduler: Scheduler | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 background: bool | None = None, on_error: ErrorCallback | None = None,
                 rng: random.Random | None = None, environ: Mapping[str, str] | None = None,
                 **settings: Any) -> None:
        self.options = options_from_arguments(
            settings, environ, outbox=outbox, config=config, base_url=base_url,
            client_id=client_id, client_secret=client_secret, token_url=token_url, env=env,
            sensor=sensor)
        self.clock = clock or SystemClock()
        if scheduler is None:
            scheduler = (ManualScheduler(self.clock) if isinstance(self.clock, FakeClock)
                         else AsyncioScheduler())
        self.scheduler = scheduler
        self._core = ClientCore(self.options, config=config, clock=self.clock,
                                scheduler=scheduler, on_error=on_error, rng=rng)
        self._http = httpx.AsyncClient(transport=transport, timeout=self.options.request_timeout)
        self.sender = AsyncSender(self._core.delivery, self._http)
        self._background = not isinstance(self.clock, FakeClock) if background is None \
            else background
        self._worker: SenderTask | None = None
        self._core.wake = self._wake
        self.activity = AsyncActivityNamespace(self)
        self._closed = False
        self._flushed = False

    def _ensure_worker(self) -> SenderTask | None:
        if self._background and self._worker is None and not self._closed:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return None
            self._worker = SenderTask(self.sender, batch_interval=self.options.batch_interval,
                                      poll_interval=self.options.poll_interval)
            if self._core.outbox.count_pending():
                self._worker.wake(True)
        return self._worker

    def _wake(self, urgent: bool) -> None:
        worker = self._ensure_worker()
        if worker is not None:
            worker.wake(urgent)

    async def enqueue(self, event: Mapping[str, Any]) -> bool:
        """As `Client.enqueue`."""
        self._ensure_worker()
        return self._core.enqueue(event)

    async def pending(self) -> list[OutboxRow]:
        return self._core.outbox.pending()

    async def dead_letters(self) -> list[DeadLetter]:
        """As `Client.dead_letters`."""
        return self._core.outbox.dead()

    async def flush(self, timeout: float | None = None) -> bool:
        limit = self.options.flush_timeout if timeout is None else timeout
        worker = self._ensure_worker()
        if worker is None:
            if not self._closed:
                await self.sender.run_until_idle()
            return self._core.outbox.count_pending() == 0
        deadline = self.clock.monotonic() + limit
        while self._core.outbox.count_pending():
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
        core = self._core
        try:
            if not core.delivery.blocked():
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
                        await asyncio.wait_for(done, limit)
        finally:
            core.tracking.forget_waiter(waiter)
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
        self._core.closed = True
        if self._worker is not None:
            await self._worker.stop()
        self.scheduler.close()
        await self._http.aclose()
        self._core.outbox.close()
        return self._flushed

    async def __aenter__(self) -> AsyncClient:
        self._ensure_worker()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()
