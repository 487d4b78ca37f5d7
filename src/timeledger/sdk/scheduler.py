"""Timers for heartbeats and timeouts: a real thread, an asyncio loop, or a manual one for tests."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from timeledger.sdk.clock import Clock, FakeClock, SystemClock

log = logging.getLogger("timeledger.sdk")


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """Runs a callback once, `delay` seconds from now on the scheduler's clock."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...

    def close(self) -> None: ...


@dataclass(order=True)
class _Timer:
    due: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


def _run(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:  # one bad timer must not stop the others; logged
        log.exception("timeledger timer callback failed")


class ManualScheduler:
    """Timers that fire only when a FakeClock is advanced (or `run_due()` is called)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._heap: list[_Timer] = []
        self._seq = itertools.count()
        clock.attach(self)

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(self.clock.monotonic() + max(delay, 0.0), next(self._seq), callback)
        heapq.heappush(self._heap, timer)
        return timer

    def _drop_cancelled(self) -> None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)

    def next_due(self) -> float | None:
        self._drop_cancelled()
        return self._heap[0].due if self._heap else None

    def fire_due(self) -> None:
        """Fire every timer due at the clock's current time."""
        now = self.clock.monotonic()
        while True:
            self._drop_cancelled()
            if not self._heap or self._heap[0].due > now:
                return
            _run(heapq.heappop(self._heap).callback)

    run_due = fire_due

    @property
    def pending(self) -> int:
        """How many timers wait to fire."""
        return sum(1 for timer in self._heap if not timer.cancelled)

    def close(self) -> None:
        self._heap.clear()


class ThreadScheduler:
    """One daemon thread that sleeps until the next timer; callbacks run on that thread."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self._heap: list[_Timer] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(self.clock.monotonic() + max(delay, 0.0), next(self._seq), callback)
        with self._cond:
            if self._closed:
                timer.cancelled = True
                return timer
            heapq.heappush(self._heap, timer)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="timeledger-timers", daemon=True)
                self._thread.start()
            self._cond.notify()
        return timer

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    while self._heap and self._heap[0].cancelled:
                        heapq.heappop(self._heap)
                    if self._heap and self._heap[0].due <= self.clock.monotonic():
                        timer = heapq.heappop(self._heap)
                        break
                    wait = self._heap[0].due - self.clock.monotonic() if self._heap else None
                    self._cond.wait(wait)  # clock-ok: the real scheduler waits in real time
            _run(timer.callback)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)


class AsyncioScheduler:
    """Timers on an asyncio event loop (callbacks run on the loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        return loop.call_later(max(delay, 0.0), _run, callback)

    def close(self) -> None:
        return None


class NoTimers:
    """A scheduler whose timers never fire: a disabled client starts no timer thread."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timer:
        return _Timer(delay, 0, callback, cancelled=True)

    def close(self) -> None:
        return None
