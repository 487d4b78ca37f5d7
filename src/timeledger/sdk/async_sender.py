"""The async sender: the same delivery rounds, their outbox steps on the outbox thread, their HTTP
requests over httpx.AsyncClient on the loop, and what they tell the app told on the loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence

import httpx

from timeledger.sdk.auth import Exchange
from timeledger.sdk.delivery import Delivery, DeliveryListener, RoundResult
from timeledger.sdk.errors import DeliveryError
from timeledger.sdk.outbox import OutboxRow
from timeledger.sdk.outbox_thread import OutboxThread
from timeledger.sdk.sender import MAX_ROUNDS
from timeledger.sdk.wire import HttpReply, HttpRequest

log = logging.getLogger("timeledger.sdk")


async def perform(http: httpx.AsyncClient, request: HttpRequest) -> HttpReply:
    try:
        response = await http.request(request.method, request.url, headers=dict(request.headers),
                                      content=request.content)
    except httpx.HTTPError as exc:
        return HttpReply(status=None, failure=f"{type(exc).__name__}: {exc}")
    return HttpReply(response.status_code, dict(response.headers), response.content)


def advance(exchange: Exchange[RoundResult],
            reply: HttpReply | None) -> HttpRequest | RoundResult:
    """One step of a round (on the outbox thread): its next request, or its result."""
    try:
        return exchange.send(reply)  # type: ignore[arg-type]  # None starts the round
    except StopIteration as stop:
        result: RoundResult = stop.value
        return result


class HeldListener:
    """Keeps what a round tells its listener on the outbox thread until the loop passes it on."""

    def __init__(self, listener: DeliveryListener) -> None:
        self.listener = listener
        self._told: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def _hold(self, call: Callable[[], None]) -> None:
        with self._lock:
            self._told.append(call)

    def delivered(self, rows: Sequence[OutboxRow]) -> None:
        self._hold(lambda: self.listener.delivered(rows))

    def failed(self, rows: Sequence[OutboxRow], error: DeliveryError) -> None:
        self._hold(lambda: self.listener.failed(rows, error))

    def rejected(self, row: OutboxRow, error: DeliveryError) -> None:
        self._hold(lambda: self.listener.rejected(row, error))

    def pass_on(self) -> None:
        """Tell the listener, in order, what was held (on the loop)."""
        with self._lock:
            told, self._told = self._told, []
        for call in told:
            call()


class AsyncSender:
    """`await run_once()`: one round; the twin of `Sender`."""

    def __init__(self, delivery: Delivery, http: httpx.AsyncClient, thread: OutboxThread,
                 listener: HeldListener) -> None:
        self.delivery = delivery
        self.http = http
        self.thread = thread
        self.listener = listener
        self._lock = asyncio.Lock()

    async def run_once(self) -> RoundResult:
        async with self._lock:
            exchange = self.delivery.round()
            step = await self.thread.run(advance, exchange, None)
            self.listener.pass_on()
            while isinstance(step, HttpRequest):
                reply = await perform(self.http, step)
                step = await self.thread.run(advance, exchange, reply)
                self.listener.pass_on()
            return step

    async def run_until_idle(self) -> RoundResult:
        total = RoundResult()
        for _ in range(MAX_ROUNDS):
            step = await self.run_once()
            total = total + step
            if step.idle or step.blocked_until is not None:
                break
        return total


class SenderTask:
    """The background worker as an asyncio task, started on the loop by `start()`.

    `wake()` may be called from any thread (the outbox thread wakes it after a write).
    """

    def __init__(self, sender: AsyncSender, *, batch_interval: float, poll_interval: float) -> None:
        self.sender = sender
        self.batch_interval = batch_interval
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._urgent = False
        self._progress = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self._task is not None

    def start(self) -> bool:
        """Start on the running loop (once); False when no loop runs here."""
        if self._task is None:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                return False
            self._task = self._loop.create_task(self._run(), name="timeledger-sender")
            self.wake(urgent=True)  # whatever an earlier process left in the outbox
        return True

    def wake(self, urgent: bool = False) -> None:
        def _set() -> None:
            self._urgent = self._urgent or urgent
            self._wake.set()

        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            _set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
                loop.call_soon_threadsafe(_set)

    async def wait_progress(self, timeout: float) -> None:
        self._progress.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._progress.wait()

    async def _run(self) -> None:
        delivery = self.sender.delivery
        while True:
            timeout = await self.sender.thread.run(delivery.seconds_until_due, self.poll_interval)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):  # unlike wait_for, never loses a cancel
                    await self._wake.wait()
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
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
