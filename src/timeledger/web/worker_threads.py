"""The threads a sync identity hook and its outbox write run on: the router's own pool, reached
through asyncio's executor, a thread hop that costs about half of Starlette's anyio one
(`bench/adapter.py`, the default sync hook)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

DEFAULT_WORKER_THREADS = 40
"""At most this many requests run their hook and write at once (Starlette's own default for
`run_in_threadpool`); more wait their turn in the order they came."""

T = TypeVar("T")
P = ParamSpec("P")


class WorkerThreads:
    """`await threads.run(call, *args)`: `call` on a worker thread, with the caller's context
    variables (as `run_in_threadpool` gives them). The threads start at first use, and end once
    nothing refers to this any more (as a thread pool's do)."""

    def __init__(self, max_threads: int = DEFAULT_WORKER_THREADS) -> None:
        self.max_threads = max_threads
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.max_threads,
                                                    thread_name_prefix="timeledger-adapter")
            return self._executor

    async def run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        context = contextvars.copy_context()
        bound = functools.partial(context.run, call, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool(), bound)
