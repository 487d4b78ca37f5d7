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


def test_an_error_reaches_the_caller_and_the_thread_goes_on() -> None:
    threads = WorkerThreads(max_threads=1)

    def fail() -> None:
        raise LookupError("no session")

    async def main() -> str:
        with pytest.raises(LookupError, match="no session"):
            await threads.run(fail)
        return await threads.run(lambda: threading.current_thread().name)

    assert asyncio.run(main()).startswith("timeledger-adapter")


def test_calls_past_the_bound_wait_their_turn_and_a_cancelled_one_is_skipped() -> None:
    """With one thread busy, later calls queue; a caller that gives up does not stop the rest."""
    threads = WorkerThreads(max_threads=1)
    release = threading.Event()
    ran: list[str] = []

    def step(name: str) -> str:
        if name == "first":
            release.wait(30)
        ran.append(name)
        return name

    async def main() -> list[str]:
        first = asyncio.ensure_future(threads.run(step, "first"))
        given_up = asyncio.ensure_future(threads.run(step, "given up"))
        last = asyncio.ensure_future(threads.run(step, "last"))
        await asyncio.sleep(0)
        given_up.cancel()
        release.set()
        return [await first, await last]

    assert asyncio.run(main()) == ["first", "last"]
    assert ran[0] == "first" and ran[-1] == "last"  # in order, on the one thread
