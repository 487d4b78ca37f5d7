"""The async sender: the same delivery rounds over httpx.AsyncClient, as a task on the loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TypeVar

import httpx

from timeledger.sdk.auth import Exchange
from timeledger.sdk.delivery import Delivery, RoundResult
from timeledger.sdk.sender import MAX_ROUNDS
from timeledger.sdk.wire import HttpReply, HttpRequest

log = logging.getLogger("timeledger.sdk")
T = TypeVar("T")


async def perform(http: httpx.AsyncClient, request: HttpRequest) -> HttpReply:
    try:
        response = await http.request(request.method, request.url, headers=dict(request.headers),
                                      content=request.content)
    except httpx.HTTPError as exc:
        return HttpReply(status=None, failure=f"{type(exc).__name__}: {exc}")
    return HttpReply(response.status_code, dict(response.headers), response.content)


async def drive(exchange: Exchange[T], http: httpx.AsyncClient) -> T:
    try:
        request = next(exchange)
        while True:
            request = exchange.send(await perform(http, request))
    except StopIteration as stop:
        result: T = stop.value
        return result


class AsyncSender:
    """`await run_once()`: one round; the twin of `Sender`."""

    def __init__(self, delivery: Delivery, http: httpx.AsyncClient) -> None:
        self.delivery = delivery
        self.http = http
        self._lock = asyncio.Lock()

    async def run_once(self) -> RoundResult:
        async with self._lock:
            return await drive(self.delivery.round(), self.http)

    async def run_until_idle(self) -> RoundResult:
        total = RoundResult()
        for _ in range(MAX_ROUNDS):
            step = await self.run_once()
            total = total + step
            if step.idle or step.blocked_until is not None:
                break
        return total


class SenderTask:
    """The background worker as an asyncio task."""

    def __init__(self, sender: AsyncSender, *, batch_interval: float, poll_interval: float) -> None:
        self.sender = sender
        self.batch_interval = batch_interval
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._urgent = False
        self._progress = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="timeledger-sender")

    def wake(self, urgent: bool = False) -> None:
        def _set() -> None:
            self._urgent = self._urgent or urgent
            self._wake.set()

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            _set()
        else:
            self._loop.call_soon_threadsafe(_set)

    async def wait_progress(self, timeout: float) -> None:
        self._progress.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._progress.wait(), timeout)

    def _timeout(self) -> float:
        return self.sender.delivery.seconds_until_due(self.poll_interval)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._timeout())
            urgent, self._urgent = self._urgent, False
            self._wake.clear()
            if not urgent and self.batch_interval > 0:
                await asyncio.sleep(self.batch_interval)  # clock-ok: linger to batch
            try:
                await self.sender.run_until_idle()
            except Exception:  # rows stay queued and are retried; logged
                log.exception("timeledger sender round failed; will retry")
            self._progress.set()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
