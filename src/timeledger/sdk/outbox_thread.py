"""The one thread running the outbox's reads and delivery steps for an `AsyncClient`: its loop
never waits on SQLite.

A single worker keeps the calls in the order they were made. Queueing goes to the outbox's own
writer (group commit, `outbox_writer.py`); a claim first writes what waits there, so a write
handed over before a delivery round is in the file when the round claims. The thread starts at
the first call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


class OutboxThread:
    """`submit(fn)` from any thread; `await run(fn, *args)` from the loop."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="timeledger-outbox")

    def submit(self, write: Callable[[], T]) -> Future[T]:
        return self._executor.submit(write)

    async def run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.wrap_future(self._executor.submit(call, *args, **kwargs))

    def shutdown(self) -> None:
        """No more calls; the thread ends once the calls already submitted have run."""
        self._executor.shutdown(wait=False)
