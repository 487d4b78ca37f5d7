"""Instructions per request on the adapter's server process: what a busy machine does not skew.

Starts the app `bench/adapter.py` serves under `valgrind --tool=callgrind`, warms both routes up,
zeroes the counters, posts `--requests` no-op requests and dumps, then as many heartbeats and
dumps again (`callgrind_control`); every thread of the process is counted, start-up is not.
Clients post one at a time (`--clients 1`, the default), so each heartbeat is its own outbox
commit. Needs valgrind; takes about a minute.
Last line: `noop_instr=<n> heartbeat_instr=<n> instr_ratio=<x>` (heartbeat / no-op).
Run: `.venv/bin/python bench/adapter_instructions.py [--requests 300] [--clients 1]
[--identity sync|async]`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `bench.*`

from bench.adapter import START, free_port

BEAT_PATH = "/api/timeback/activity/heartbeat"


class Windows:
    """Distinct heartbeat bodies across client threads."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def body(self, run_id: str) -> bytes:
        with self._lock:
            n, self._next = self._next, self._next + 1
        began = START + timedelta(seconds=15 * n)
        return orjson.dumps({
            "id": "bench", "name": "Bench", "course": {"subject": "Math", "grade": 3},
            "runId": run_id, "startedAt": began.isoformat().replace("+00:00", "Z"),
            "endedAt": (began + timedelta(seconds=15)).isoformat().replace("+00:00", "Z"),
            "elapsedMs": 12000, "pausedMs": 3000})


def post(url: str, path: str, count: int, clients: int, windows: Windows) -> None:
    """`count` posts to `path`, spread over `clients` threads posting at once."""

    def one(worker: int) -> None:
        run_id = str(uuid.uuid4())
        headers = {"Content-Type": "text/plain", "x-learner": f"b{worker}@example.edu"}
        with httpx.Client(base_url=url, timeout=600) as http:
            for _ in range(count // clients):
                reply = http.post(path, content=windows.body(run_id), headers=headers)
                if reply.status_code != 204:
                    raise SystemExit(f"{path} answered {reply.status_code}: {reply.text}")

    threads = [threading.Thread(target=one, args=(worker,)) for worker in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def total(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"no total in {dump}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="of each kind")
    parser.add_argument("--clients", type=int, default=1, help="client threads posting at once")
    parser.add_argument("--identity", choices=("sync", "async"), default="sync")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no",
             sys.executable, str(Path(__file__).with_name("adapter.py")), "--serve", str(port),
             str(Path(folder) / "outbox.sqlite3"), args.identity],
            stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 600
            while True:
                try:
                    httpx.post(url + "/noop", content=b"{}", timeout=60)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the adapter server did not start") from None
                    time.sleep(0.5)  # waiting for a real process to come up under valgrind
            windows = Windows()

            def control(*options: str) -> None:
                subprocess.run(["callgrind_control", *options, str(server.pid)], check=True,
                               stdout=subprocess.DEVNULL)

            post(url, "/noop", 50, args.clients, windows)
            post(url, BEAT_PATH, 50, args.clients, windows)
            control("-z")
            post(url, "/noop", args.requests, args.clients, windows)
            control("-d", "noop")
            post(url, BEAT_PATH, args.requests, args.clients, windows)
            control("-d", "heartbeat")
        finally:
            server.terminate()
            server.wait(120)
        dumps = {}
        for dump in Path(folder).glob("callgrind.out*"):
            trigger = [line for line in dump.read_text().splitlines()
                       if line.startswith("desc: Trigger:")]
            if trigger:
                dumps[trigger[0].rsplit(" ", 1)[-1]] = total(dump)
    sent = args.requests // args.clients * args.clients
    noop, heartbeat = dumps["noop"] / sent, dumps["heartbeat"] / sent
    print(f"instructions per request on the server process ({args.identity} identity hook,"
          f" {args.clients} client(s), {sent} requests of each kind): no-op {noop:.0f},"
          f" heartbeat {heartbeat:.0f}")
    print(f"noop_instr={noop:.0f} heartbeat_instr={heartbeat:.0f}"
          f" instr_ratio={heartbeat / noop:.2f}")


if __name__ == "__main__":
    main()
