"""Ingest p99 latency while wrong client secrets arrive, against the same without them.

Starts `timeledger serve` on a fresh SQLite data dir. One client posts one-heartbeat envelopes
back to back over a keep-alive connection and records each latency. In alternating rounds an
attacker process sends `--rate` wrong secrets per second to /oauth2/token (raw sockets), each
from another loopback address (127.1.x.y) and for a random client id, so the per-address and
per-account throttles refuse none of them: each costs a full scrypt check or, when the check
pool's wait list is full, a 503. The worst case for the server.
Last line: `auth_p99_ms_quiet=<ms> auth_p99_ms_attacked=<ms> ratio=<x>` (attacked / quiet; the
target is at most 1.5). Run: `.venv/bin/python bench/auth.py [--seconds 5] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx

from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    activity_url,
    envelope,
    time_spent_event,
)

SENSOR = "https://bench.example.com"
START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "timeledger", "serve", "--port", str(port),
               "--data-dir", str(data_dir)]
    log = (data_dir / "server.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not come up")


def api_token(data_dir: Path, base_url: str) -> str:
    created = json.loads(subprocess.run(
        [sys.executable, "-m", "timeledger", "clients", "create", "bench", "--json",
         "--data-dir", str(data_dir)], capture_output=True, text=True, check=True).stdout)
    reply = httpx.post(f"{base_url}/oauth2/token", data={"grant_type": "client_credentials"},
                       auth=(created["client_id"], created["client_secret"]), timeout=30)
    reply.raise_for_status()
    token: str = reply.json()["access_token"]
    return token


def heartbeat_body(index: int) -> bytes:
    ref = ActivityRef(url=activity_url(SENSOR, "fractions", subject="Math", grade=3),
                      name="Fractions", subject="Math", app_name="Bench", course_id="bench",
                      course_name="Math G3")
    start = START + timedelta(seconds=20 * index)
    event = time_spent_event(
        actor=Learner(f"learner-{index % 50}@bench.example", f"s{index % 50}").actor(
            "https://roster.bench.example"),
        activity=ref, run_id=str(uuid.uuid4()), started_at=start,
        ended_at=start + timedelta(seconds=15), active_ms=15_000, inactive_ms=0)
    return json.dumps(envelope(SENSOR, [event], datetime.now(UTC))).encode()


def ingest_latencies(base_url: str, token: str, seconds: float, first: int) -> list[float]:
    """Milliseconds of each POST /caliper/event sent back to back for `seconds`."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        end = time.perf_counter() + seconds
        index = first
        while time.perf_counter() < end:
            body = heartbeat_body(index)
            started = time.perf_counter()
            reply = client.post("/caliper/event", content=body)
            latencies.append((time.perf_counter() - started) * 1000)
            if reply.status_code != 200:
                raise RuntimeError(f"ingest failed: {reply.status_code} {reply.text[:200]}")
            index += 1
    return latencies


def attack(base_url: str, rate: float, stop: Event, results: Any) -> None:
    """`rate` wrong secrets a second, each from its own loopback address, until `stop`."""
    outcomes: Counter[int] = Counter()
    lock = threading.Lock()

    host, port = base_url.removeprefix("http://").rsplit(":", 1)

    def one(number: int) -> None:
        address = f"127.1.{(number // 250) % 250 + 1}.{number % 250 + 1}"
        credentials = base64.b64encode(f"tl_{uuid.uuid4().hex[:16]}:wrong".encode()).decode()
        body = b"grant_type=client_credentials"
        request = (f"POST /oauth2/token HTTP/1.1\r\nHost: {host}\r\n"
                   f"Authorization: Basic {credentials}\r\nConnection: close\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        try:
            with socket.create_connection((host, int(port)), timeout=30,
                                          source_address=(address, 0)) as sock:
                sock.sendall(request)
                status = int(sock.recv(64).split(b" ", 2)[1])
        except (OSError, ValueError, IndexError):
            status = 0
        with lock:
            outcomes[status] += 1

    started = time.perf_counter()
    sent = 0
    threads: list[threading.Thread] = []
    while not stop.is_set():
        due = started + sent / rate
        wait = due - time.perf_counter()
        if wait > 0:
            stop.wait(wait)
            continue
        thread = threading.Thread(target=one, args=(sent,), daemon=True)
        thread.start()
        threads.append(thread)
        sent += 1
    for thread in threads:
        thread.join(30)
    results.put(dict(outcomes))


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each round")
    parser.add_argument("--rounds", type=int, default=3, help="quiet/attacked pairs")
    parser.add_argument("--rate", type=float, default=50.0, help="wrong secrets per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tl-bench-auth-") as folder:
        data_dir = Path(folder)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        server = start_server(data_dir, port)
        try:
            token = api_token(data_dir, base_url)
            ingest_latencies(base_url, token, 1.0, 0)  # warm-up
            quiet: list[float] = []
            attacked: list[float] = []
            outcomes: Counter[int] = Counter()
            first = 1_000_000
            for _ in range(args.rounds):
                quiet += ingest_latencies(base_url, token, args.seconds, first)
                first += 1_000_000
                stop = multiprocessing.Event()
                results: Any = multiprocessing.Queue()
                attacker = multiprocessing.Process(target=attack,
                                                   args=(base_url, args.rate, stop, results))
                attacker.start()
                time.sleep(1.0)  # the attack is under way before measuring
                attacked += ingest_latencies(base_url, token, args.seconds, first)
                first += 1_000_000
                stop.set()
                outcomes.update(results.get(timeout=60))
                attacker.join(30)
        finally:
            server.terminate()
            server.wait(30)
    print(f"cores={os.cpu_count()} rounds={args.rounds} seconds={args.seconds} "
          f"rate={args.rate:g}/s requests_quiet={len(quiet)} requests_attacked={len(attacked)} "
          f"token_replies={dict(sorted(outcomes.items()))}")
    quiet_p99, attacked_p99 = p99(quiet), p99(attacked)
    print(f"auth_p99_ms_quiet={quiet_p99:.1f} auth_p99_ms_attacked={attacked_p99:.1f} "
          f"ratio={attacked_p99 / quiet_p99:.2f}")


if __name__ == "__main__":
    main()
