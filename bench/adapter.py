"""Heartbeats per second through the web adapter, against a no-op route of the same app.

Serves one Starlette app with uvicorn in a subprocess on 127.0.0.1: the adapter router (identity
from a header, events into a real SDK outbox file, nothing sent on) and `POST /noop`, which reads
the body and answers 204. Client processes post distinct heartbeat windows over keep-alive
connections, alternating between the no-op route and the adapter for the same time each, several
rounds; each rate is the median over the rounds, so a busy machine skews both alike. At the end
the outbox must hold exactly one event per heartbeat answered (else the run fails).
The server's CPU time per request of each kind is printed too (`cpu_ratio` = no-op CPU /
heartbeat CPU), since on a machine busy with other work the rates say more about the scheduler.
Last line: `heartbeat_rps=<n> noop_rps=<n> ratio=<x>` (ratio = heartbeat / noop).
Concurrent heartbeats share outbox transactions (group commit). With `--identity async` the
identity hook is a coroutine awaited on the server's loop and the write runs on a worker thread;
with a plain function (the default) the hook and the write run on a worker thread.
Run: `.venv/bin/python bench/adapter.py [--seconds 3] [--rounds 3] [--clients 2]
[--identity sync|async]`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

CONFIG = {"name": "Bench App", "sensor": "https://bench.example.com",
          "courses": [{"subject": "Math", "grade": 3}]}
START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def serve(port: int, outbox: str, hook: str) -> None:
    """The app under test (runs in the server subprocess)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Mount, Route

    from timeledger import Client
    from timeledger.web import create_router

    async def noop(request: Request) -> Response:
        await request.body()
        return Response(status_code=204)

    def identity(request: Request) -> dict[str, Any] | None:
        email = request.headers.get("x-learner")
        return {"email": email} if email else None

    async def async_identity(request: Request) -> dict[str, Any] | None:
        return identity(request)

    client = Client(base_url="http://127.0.0.1:9", config=CONFIG, outbox=outbox, background=False)
    router = create_router(client, identity=async_identity if hook == "async" else identity)
    app = Starlette(routes=[Route("/noop", noop, methods=["POST"]),
                            Mount(router.base_path, app=router)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def post_for(args: tuple[str, str, float, int]) -> int:
    """One client process: sequential posts of distinct windows for `seconds`; returns the count."""
    url, path, seconds, worker = args
    run_id = str(uuid.uuid4())
    sent = 0
    headers = {"Content-Type": "text/plain;charset=UTF-8", "x-learner": f"b{worker}@example.edu"}
    with httpx.Client(base_url=url, timeout=30) as http:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            began = START + timedelta(seconds=15 * sent)
            body = orjson.dumps({
                "id": "bench", "name": "Bench", "course": {"subject": "Math", "grade": 3},
                "runId": run_id, "startedAt": began.isoformat().replace("+00:00", "Z"),
                "endedAt": (began + timedelta(seconds=15)).isoformat().replace("+00:00", "Z"),
                "elapsedMs": 12000, "pausedMs": 3000})
            reply = http.post(path, content=body, headers=headers)
            if reply.status_code != 204:
                raise SystemExit(f"{path} answered {reply.status_code}: {reply.text}")
            sent += 1
    return sent


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(pool: Any, url: str, path: str, seconds: float, clients: int,
            server: int | None = None) -> tuple[int, float, float]:
    """(requests answered, requests per second, server CPU µs per request) over `seconds` of
    `clients` posting at once."""
    began, cpu = time.perf_counter(), cpu_seconds(server) if server else 0.0
    counts = pool.map(post_for, [(url, path, seconds, i) for i in range(clients)])
    used = cpu_seconds(server) - cpu if server else 0.0
    return (sum(counts), sum(counts) / (time.perf_counter() - began),
            used / max(sum(counts), 1) * 1e6)


def queued(outbox: str) -> int:
    """Events in the adapter's outbox (nothing is sent on, so every accepted window stays)."""
    with sqlite3.connect(outbox) as db:
        (count,) = db.execute("SELECT count(*) FROM events").fetchone()
    return int(count)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per route and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--identity", choices=("sync", "async"), default="sync",
                        help="the identity hook: a plain function (run on a worker thread, with"
                        " the request's outbox write) or a coroutine (awaited on the loop; the"
                        " write then runs on a worker thread)")
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "OUTBOX", "HOOK"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], args.serve[2])
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        outbox = str(Path(folder) / "outbox.sqlite3")
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), outbox,
                                   args.identity])
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.post(url + "/noop", content=b"{}")
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the adapter server did not start") from None
                    time.sleep(0.1)  # waiting for a real process to come up
            beat_path = "/api/timeback/activity/heartbeat"
            with multiprocessing.get_context("spawn").Pool(args.clients) as pool:
                measure(pool, url, "/noop", 1.0, args.clients)  # warm up both paths
                sent = measure(pool, url, beat_path, 1.0, args.clients)[0]
                noops, heartbeats, noop_cpus, heartbeat_cpus = [], [], [], []
                for _ in range(args.rounds):
                    _, rate, cpu = measure(pool, url, "/noop", args.seconds, args.clients,
                                           server.pid)
                    noops.append(rate)
                    noop_cpus.append(cpu)
                    posted, rate, cpu = measure(pool, url, beat_path, args.seconds, args.clients,
                                                server.pid)
                    sent += posted
                    heartbeats.append(rate)
                    heartbeat_cpus.append(cpu)
                noop, heartbeat = statistics.median(noops), statistics.median(heartbeats)
                noop_cpu = statistics.median(noop_cpus)
                heartbeat_cpu = statistics.median(heartbeat_cpus)
            if queued(outbox) != sent:
                raise SystemExit(f"{sent} heartbeats answered 204 but the outbox holds "
                                 f"{queued(outbox)} events")
        finally:
            server.terminate()
            server.wait(15)
    if heartbeat_cpu:
        print(f"server CPU per request: no-op {noop_cpu:.0f} µs, heartbeat {heartbeat_cpu:.0f} µs"
              f" (cpu_ratio={noop_cpu / heartbeat_cpu:.2f}; what a busy machine does not skew)")
    print(f"no-op route: {noop:.0f} requests/s; adapter heartbeat (to the outbox): "
          f"{heartbeat:.0f} requests/s ({args.identity} identity hook, {args.clients} client"
          f" processes, {args.rounds} rounds of "
          f"{args.seconds:g} s per route; medians); {sent} windows answered 204, all in the outbox")
    print(f"heartbeat_rps={heartbeat:.0f} noop_rps={noop:.0f} ratio={heartbeat / noop:.2f}")


if __name__ == "__main__":
    main()
