"""A sync identity hook runs on the router's worker threads, with the request's context
variables, never on the event loop's thread."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading

import pytest

from timeledger.web.worker_threads import WorkerThreads

pytestmark = pytest.mark.unit

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


def test_a_call_runs_off_the_loop_with_the_callers_context_variables() -> None:
    threads = WorkerThreads(max_threads=2)

    def seen(suffix: str) -> tuple[str, str]:
        return REQUEST_ID.get() + suffix, threading.current_thread().name

    async def main() -> list[tuple[str, str]]:
        async def one(request: str) -> tuple[str, str]:
            REQUEST_ID.set(request)  # each task has its own copy of the context
            return await threads.run(seen, "!")

        return list(await asyncio.gather(*(one(f"r{n}") for n in range(4))))

    answers = asyncio.run(main())
    assert [value for value, _ in answers] == ["r0!", "r1!", "r2!", "r3!"]
    names = {name for _, name in answers}
    assert names and all(name.startswith("timeledger-adapter") for name in names)
    assert len(names) <= 2  # the bound


def test_the_threads_end_with_their_owner() -> None:
    before = set(threading.enumerate())
    threads = WorkerThreads(max_threads=1)
    asyncio.run(threads.run(lambda: None))
    [worker] = [t for t in threading.enumerate() if t.name.startswith("timeledger-adapter")
                and t.is_alive() and t.ident is not None and t not in before]
    del threads
    gc.collect()
    worker.join(30)
    assert not worker.is_alive()
