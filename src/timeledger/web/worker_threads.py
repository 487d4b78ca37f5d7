"""The threads a request's outbox write runs on (with a sync identity hook, the hook too): the
router's own, fed through one queue and answering the loop with one `call_soon_threadsafe`, a thread
hop about a third as dear as asyncio's executor and a sixth of Starlette's anyio one
(`bench/adapter.py`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger("timeledger.web")

DEFAULT_WORKER_THREADS = 40
"""At most this many requests run their hook and write at once (Starlette's own default for
`run_in_threadpool`); more wait their turn in the order they came."""

T = TypeVar("T")
P = ParamSpec("P")

_Call = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context,
              Callable[[], Any]]
_STOP = None  # put on the queue once the owner is gone: each thread passes it on and ends


class WorkerThreads:
    """`await threads.run(call, *args)`: `call` on a worker thread, with the caller's context
    variables (as `run_in_threadpool` gives them). A thread starts when a call finds none idle,
    up to `max_threads`; they end once nothing refers to this any more (as a thread pool's do)."""

    def __init__(self, max_threads: int = DEFAULT_WORKER_THREADS) -> None:
        if max_threads < 1:
            raise ValueError(f"max_threads must be at least 1, not {max_threads}")
        self.max_threads = max_threads
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # one release per thread waiting for a call
        self._lock = threading.Lock()
        self._started = 0
        weakref.finalize(self, self._calls.put, _STOP)

    async def run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()
        context = contextvars.copy_context()
        self._calls.put((loop, answer, context, lambda: call(*args, **kwargs)))
        if not self._idle.acquire(blocking=False):
            self._start_one()
        return await answer

    def _start_one(self) -> None:
        with self._lock:
            if self._started >= self.max_threads:
                return  # the call waits for a thread to come free
            self._started += 1
            name = f"timeledger-adapter_{self._started - 1}"
        threading.Thread(target=_work, args=(self._calls, self._idle), name=name,
                         daemon=True).start()


def _work(calls: queue.SimpleQueue[_Call | None], idle: threading.Semaphore) -> None:
    """One worker thread: run calls until the owner is gone. (It holds no reference to its
    `WorkerThreads`, so that one can be collected.)"""
    while True:
        item = calls.get()
        if item is None:
            calls.put(_STOP)
            return
        loop, answer, context, call = item
        settle: Callable[[asyncio.Future[Any], Any], None]
        try:
            outcome: Any = context.run(call)
            settle = _resolve
        except BaseException as error:  # handed to the awaiting request, as an executor does
            outcome, settle = error, _fail
        try:
            loop.call_soon_threadsafe(settle, answer, outcome)
        except RuntimeError:  # the loop was closed meanwhile: nobody awaits the answer
            log.debug("timeledger.web worker answer dropped: its event loop is closed")
        del item, answer, call, outcome, context
        idle.release()


def _resolve(answer: asyncio.Future[Any], value: Any) -> None:
    if not answer.done():  # a request cancelled while it ran (its client went away)
        answer.set_result(value)


def _fail(answer: asyncio.Future[Any], error: BaseException) -> None:
    if not answer.done():
        answer.set_exception(error)
