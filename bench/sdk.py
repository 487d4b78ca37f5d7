"""Benchmark the SDK: app-thread cost per heartbeat and per end(metrics), and delivery throughput.

    .venv/bin/python bench/sdk.py [--heartbeats 3000] [--ends 300] [--events 5000]

The first numbers are what an Activity costs the app's own thread. A heartbeat is handed to the
outbox's writer thread (group commit), so its SQLite write is not on the app's thread: the bench
reports the wall time per heartbeat on the app's thread (`heartbeat_us`; the writer thread shares
the GIL, so part of its work shows here), that thread's own CPU time (`heartbeat_cpu_us`, what a
busy machine does not skew), the wall time until all of them are durable in the outbox
(`durable_us`, per heartbeat) and the CPU time of the whole process until then (`total_cpu_us`:
the app's thread and the writer's together, the SDK's whole cost of a heartbeat). end(metrics)
returns once its events are durable, so `end_us` includes their write (measured without waiting
for the acknowledgement). The last number is
events per second from the outbox to a local platform started for the run (`timeledger serve`
on a temp SQLite), or to `--base-url` with `--client-id`/`--client-secret`.
Last line:
`heartbeat_us=<n> heartbeat_cpu_us=<n> durable_us=<n> total_cpu_us=<n> end_us=<n>
delivered_events_per_s=<n>`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `tests.*`

from timeledger.sdk import Client  # noqa: E402
from timeledger.testing import FakeClock  # noqa: E402

CONFIG: dict[str, Any] = {"name": "Bench", "sensor": "https://bench.example.com",
                          "courses": [{"subject": "Math", "grade": 3}]}
COURSE = {"subject": "Math", "grade": 3}
USER = {"email": "bench@example.edu", "id": "bench-1"}


def offline_client(outbox: Path, clock: FakeClock) -> Client:
    """Heartbeats on a fake clock (timers fire inline), nothing sent: only the app's share."""
    return Client("http://127.0.0.1:9", config=CONFIG, clock=clock, outbox=str(outbox),
                  environ={})


def heartbeat_us(folder: Path, count: int) -> tuple[float, float, float, float]:
    """(wall µs, CPU µs of the app's thread, wall µs until durable, process CPU µs until durable)
    per heartbeat."""
    clock = FakeClock()
    client = offline_client(folder / "heartbeats.sqlite3", clock)
    client.activity.start(id="bench", name="Bench", course=COURSE, user=USER)
    started, cpu, total = time.perf_counter(), time.thread_time(), time.process_time()
    for _ in range(count):
        clock.advance(15)  # fires exactly one heartbeat: window, event, handed to the writer
    elapsed, used = time.perf_counter() - started, time.thread_time() - cpu
    assert len(client.pending()) == count  # a read: everything handed over is written first
    durable, total = time.perf_counter() - started, time.process_time() - total
    client.close(timeout=0)
    return (elapsed / count * 1e6, used / count * 1e6, durable / count * 1e6,
            total / count * 1e6)


def end_us(folder: Path, count: int) -> float:
    clock = FakeClock()
    client = offline_client(folder / "ends.sqlite3", clock)
    total = 0.0
    for n in range(count):
        activity = client.activity.start(id=f"bench-{n}", name="Bench", course=COURSE,
                                          user=USER)
        clock.advance(5)
        started = time.perf_counter()
        activity.end({"xp_earned": 1, "total_questions": 5, "correct_questions": 4},
                     wait=False)
        total += time.perf_counter() - started
    assert len(client.pending()) == 2 * count
    return total / count * 1e6


def delivered_per_s(folder: Path, count: int, base_url: str | None, client_id: str | None,
                    secret: str | None) -> float:
    outbox = folder / "delivery.sqlite3"
    clock = FakeClock()
    filler = offline_client(outbox, clock)
    activity = filler.activity.start(id="bench", name="Bench", course=COURSE, user=USER)
    clock.advance(15 * count)
    activity.end(wait=False)
    filler.close(timeout=0)  # its platform is unreachable: everything stays queued
    platform = None
    if base_url is None:
        from tests.support.platform import PlatformProcess

        platform = PlatformProcess(folder / "platform").start()
        client_id, secret = platform.create_client("bench")
        base_url = platform.base_url
    try:
        with Client(base_url, client_id=client_id, client_secret=secret, config=CONFIG,
                    outbox=str(outbox), environ={}, batch_interval=0) as sender:
            started = time.perf_counter()
            assert sender.flush(timeout=600), "delivery did not finish"
            elapsed = time.perf_counter() - started
            assert sender.dead_letters() == []
    finally:
        if platform is not None:
            platform.stop()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description="SDK benchmark")
    parser.add_argument("--heartbeats", type=int, default=3000)
    parser.add_argument("--ends", type=int, default=300)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--base-url")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        beat, beat_cpu, durable, total_cpu = heartbeat_us(folder, args.heartbeats)
        print(f"heartbeat: {beat:.1f} µs of the app's thread ({beat_cpu:.1f} µs of its CPU;"
              f" {durable:.1f} µs each until all {args.heartbeats} windows are durable, using"
              f" {total_cpu:.1f} µs of CPU in all threads)")
        end = end_us(folder, args.ends)
        print(f"end(metrics): {end:.1f} µs ({args.ends} activities, 2 events each)")
        rate = delivered_per_s(folder, args.events, args.base_url, args.client_id,
                               args.client_secret)
        print(f"delivery: {rate:.0f} events/s from the outbox to the platform "
              f"({args.events} events, batches of 100)")
        print(f"heartbeat_us={beat:.0f} heartbeat_cpu_us={beat_cpu:.0f} durable_us={durable:.0f}"
              f" total_cpu_us={total_cpu:.0f} end_us={end:.0f}"
              f" delivered_events_per_s={rate:.0f}")


if __name__ == "__main__":
    main()
