"""AsyncClient keeps its event loop free: every outbox call runs on its outbox threads."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
from pathlib import Path

import pytest

from tests.sdk.conftest import CONFIG
from tests.sdk.test_poison import events
from timeledger.sdk import AsyncClient
from timeledger.testing import FakePlatform

EVENTS = 10_000
MAX_LAG = 0.020  # seconds a 1 ms tick of the loop may come late for the SDK (`_probe`)

# Another app process sharing the outbox file: it takes the write lock for 100 ms five times.
# A client writing on its loop would stall the loop for as long; the outbox thread waits instead.
LOCK_HOLDER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
for round in range(5):
    db.execute("BEGIN IMMEDIATE")
    print("holding", flush=True)
    time.sleep(0.1)
    db.execute("COMMIT")
    time.sleep(0.2)
"""


def _runqueue_seconds() -> dict[int, float]:
    """How long each thread of this process has been ready to run while the machine ran something
    else (Linux's per-thread scheduler statistics; none elsewhere, and then every lag counts)."""
    waits: dict[int, float] = {}
    try:
        threads = os.listdir("/proc/self/task")
    except OSError:
        return waits
    for thread in threads:
        try:
            with open(f"/proc/self/task/{thread}/schedstat") as stats:
                waits[int(thread)] = int(stats.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return waits


def _not_scheduled(before: dict[int, float], after: dict[int, float]) -> float:
    """Of a tick's lag, what the machine's scheduling explains: the loop's thread waiting for a
    CPU, plus the other threads' waits (while the loop waits for the GIL, whichever thread holds
    it may be off the CPU). An upper bound: a thread waiting without the GIL counts too."""
    def waited(thread: int) -> float:
        return after.get(thread, 0.0) - before.get(thread, after.get(thread, 0.0))
    return sum(waited(thread) for thread in after)


async def _probe(lags: list[float], stop: asyncio.Event) -> None:
    """Ticks of 1 ms; records how late each one woke, on the loop's own clock, less what the
    machine's scheduling explains (other processes on a busy machine, `_not_scheduled`). What is
    left is the time the loop could not run for the SDK: a call blocking on it, or a wait for a
    GIL an SDK thread keeps."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        due, before = loop.time() + 0.001, _runqueue_seconds()
        await asyncio.sleep(0.001)
        late = loop.time() - due
        lags.append(max(0.0, late - _not_scheduled(before, _runqueue_seconds())))


@pytest.mark.alone  # a busy machine (another pytest worker) delays the ticks it times
def test_the_loop_answers_within_20_ms_while_10000_events_are_queued_and_delivered(
        tmp_path: Path) -> None:
    """Events are made one by one and the platform keeps only their ids, so the test holds
    nothing the garbage collector would pause the loop to walk; what is left is the SDK."""
    fake = FakePlatform(keep=False)
    lags: list[float] = []
    seen_threads: set[str] = set()
    on_loop: list[str] = []  # outbox statements run on the loop's thread

    async def main() -> None:
        stop = asyncio.Event()
        async with AsyncClient("http://fake.test", client_id="app", client_secret="secret",
                               config=CONFIG, transport=fake, environ={},
                               outbox=str(tmp_path / "outbox.sqlite3")) as client:
            loop_thread = threading.current_thread().name
            assert await client.pending() == []  # opened, on the outbox thread
            client._outbox._db.set_trace_callback(
                lambda statement: on_loop.append(statement)
                if threading.current_thread().name == loop_thread else None)
            gc.collect()
            gc.freeze()  # what the test run has made so far: no collection walks it again
            other = await asyncio.create_subprocess_exec(
                sys.executable, "-c", LOCK_HOLDER, client.outbox_path,
                stdout=asyncio.subprocess.PIPE)  # started before the probe: forking takes a while
            probe = asyncio.create_task(_probe(lags, stop))
            assert other.stdout is not None
            assert await other.stdout.readline() == b"holding\n"
            for number in range(EVENTS):
                assert await client.enqueue(events(client, 1, first=number)[0])
            assert await client.flush(timeout=300)
            await other.communicate()
            assert other.returncode == 0
            seen_threads.update(thread.name for thread in threading.enumerate())
            stop.set()
            await probe

    try:
        asyncio.run(main())
    finally:
        gc.unfreeze()
    assert len(fake.events) == EVENTS
    assert len(lags) > 100  # the probe ran all along
    assert on_loop == []
    assert max(lags) <= MAX_LAG, f"the loop was blocked {max(lags) * 1000:.1f} ms"
    assert any(name.startswith("timeledger-outbox") for name in seen_threads)


def test_heartbeats_from_the_loop_timers_are_written_off_the_loop(
        tmp_path: Path, fake: FakePlatform) -> None:
    """A heartbeat timer fires on the loop; its outbox insert runs on the outbox's writer."""
    writers: list[str] = []

    def traced(statement: str) -> None:
        if statement.startswith("INSERT INTO events"):
            writers.append(threading.current_thread().name)

    async def main() -> None:
        async with AsyncClient("http://fake.test", client_id="app", client_secret="secret",
                               config=CONFIG, transport=fake, environ={}, heartbeat_interval=0.05,
                               outbox=str(tmp_path / "outbox.sqlite3")) as client:
            client._outbox._db.set_trace_callback(traced)
            activity = await client.activity.start(
                id="a", name="A", course={"subject": "Math", "grade": 3},
                user={"email": "ada@example.edu"})
            deadline = asyncio.get_running_loop().time() + 10
            while len(fake.time_spent) < 2:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.02)
            await activity.end({"xp_earned": 1})

    asyncio.run(main())
    assert len(writers) >= 3 and all(name.startswith("timeledger-outbox") for name in writers)
    assert threading.main_thread().name not in writers
    assert fake.active_seconds() > 0 and len(fake.completions) == 1
