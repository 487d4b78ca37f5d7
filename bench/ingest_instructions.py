"""Instructions per event of the request path, stage by stage: what a busy machine does not skew.

Each stage runs bench/ingest.py's 100-heartbeat envelopes in process under `valgrind
--tool=callgrind`, 10 and 40 envelopes side by side; every run builds the bodies of 40 and opens
a copy of the same store (migrated, with a token, before valgrind starts), so the slope between
the two is the stage's work per event. Stages add up:
`screen` (decode and check: caliper.screen.read_envelope), `rows` (+ the append's rows),
`append` (+ event_appends.append_values and the commit), `write` (+ the results and the job row:
Ingestor._write_once), `ingest` (+ the group commit: Ingestor.ingest), `asgi` (the whole app,
called as uvicorn calls it: host check, middleware, auth, body, the worker thread, the reply).
Each slope is split by where the instructions ran: SQLite's library, the Python interpreter,
compiled extensions (msgspec, orjson, the sqlite3 module, ...) and the C library.
`--http` also counts the `serve --projectors 0` process over HTTP (4 connections), dumping
its counters before and after the envelopes (`callgrind_control -d`): everything the API
process spends per event, uvicorn and the event loop included. Needs valgrind; takes minutes.
`--keep DIR` copies the callgrind dumps there (for `callgrind_annotate --inclusive=yes`).
Last line: `screen_instr=<n> ... asgi_instr=<n> [http_instr=<n>]` (per event).
Run: `.venv/bin/python bench/ingest_instructions.py [--stages screen,rows,...] [--http]`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `bench.*`, `tests.*`

from bench.ingest import EVENTS_PER_ENVELOPE, build_envelopes
from tests.support.platform import PlatformProcess
from timeledger.caliper.envelope import Envelope
from timeledger.caliper.screen import read_envelope
from timeledger.server.app import create_app
from timeledger.server.ingestion import JobResult, _Submission
from timeledger.server.platform import Platform, open_platform
from timeledger.server.settings import Settings
from timeledger.server.store.database import writer_turn
from timeledger.server.store.event_appends import Appended, AppendedRow, append_values

BUILT = 40  # envelopes built (and their store opened) in every run
COUNTS = (10, 40)  # envelopes run: the slope between the two is the stage
STAGES = ("screen", "rows", "append", "write", "ingest", "asgi")
#: Where an instruction ran, by the object file callgrind names (first match).
WHERES = (("sqlite", "libsqlite3"), ("libc", "libc."), ("python", "python3"),
          ("python", "libpython"))
EXTENSIONS = "extensions"  # any other object: msgspec, orjson, _sqlite3, SQLAlchemy's, uvloop ...
WARM_UP = 2  # envelopes of another learner set sent first in every run (their texts interned)


def _stage_runner(stage: str, platform: Platform, token: str) -> Callable[[bytes], object]:
    """What one envelope costs in `stage`."""
    ingestor = platform.ingestor
    max_events = platform.settings.max_events_per_envelope

    def screen(body: bytes) -> Envelope:
        return read_envelope(body, max_events)

    def rows(body: bytes) -> list[AppendedRow]:
        return ingestor._rows(screen(body), platform.now(), str(uuid.uuid4()))

    def append(body: bytes) -> Appended:
        made = rows(body)
        with writer_turn(platform.engine), platform.engine.begin() as conn:
            return append_values(conn, made)

    def write(body: bytes) -> list[JobResult]:
        return ingestor._write_once([_Submission(screen(body), "bench")])

    def ingest(body: bytes) -> JobResult:
        return ingestor.ingest(screen(body), "bench")

    runners: dict[str, Callable[[bytes], object]] = {
        "screen": screen, "rows": rows, "append": append, "write": write, "ingest": ingest}
    if stage == "asgi":
        return _asgi_runner(platform, token)
    if stage not in runners:
        raise SystemExit(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    return runners[stage]


def _asgi_runner(platform: Platform, token: str) -> Callable[[bytes], None]:
    """POST /caliper/event through the whole app on one event loop, as uvicorn calls it."""
    app = create_app(platform)
    loop = asyncio.new_event_loop()
    headers = [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {token}".encode()),
               (b"content-type", b"application/json"), (b"accept-encoding", b"gzip")]

    async def post(body: bytes) -> None:
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
            "scheme": "http", "method": "POST", "root_path": "", "path": "/caliper/event",
            "raw_path": b"/caliper/event", "query_string": b"",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "state": {}}
        chunks = [body[at:at + 65536] for at in range(0, len(body), 65536)]
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        if status != [200]:
            raise SystemExit(f"POST /caliper/event answered {status}")

    return lambda body: loop.run_until_complete(post(body))


def prepare_store(folder: Path) -> tuple[Path, str]:
    """A migrated store holding a client, and a token of it: made once, outside valgrind (its
    migrations and secret hashing cost more than the envelopes counted)."""
    store = folder / "prepared.sqlite3"
    platform = open_platform(Settings(db_url=f"sqlite:///{store}"))
    try:
        now = datetime.now(UTC)
        issued = platform.credentials.create_client("bench", ("events:write",), now)
        token = platform.credentials.issue_token(issued.client_id, issued.client_secret, (), now)
        assert token is not None
        return store, token.token
    finally:
        platform.close()


def run_stage(stage: str, count: int, prepared: Path, token: str) -> None:
    """Open a copy of the prepared store, build `BUILT` envelopes, run the first `count`
    through `stage`."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "bench.sqlite3"
        shutil.copyfile(prepared, store)
        platform = open_platform(Settings(db_url=f"sqlite:///{store}"))
        try:
            bodies = build_envelopes(BUILT)
            run = _stage_runner(stage, platform, token)
            for body in build_envelopes(WARM_UP):
                run(body)
            # A server's start-up objects sit in the oldest generation, fully collected about
            # once in 40,000 events; here one full collection more or less in a run would
            # swing the slope by more than a stage costs.
            gc.freeze()
            for body in bodies[:count]:
                run(body)
        finally:
            platform.close()


def _callgrind(args: list[str], out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                             "--dump-instr=no", *args], stderr=subprocess.DEVNULL)


def by_object(dump: Path) -> dict[str, int]:
    """A callgrind dump's instructions by where they ran (WHERES), and `total`.

    Read from the dump itself: callgrind_annotate names no object for the lines of inlined code
    (a tenth of the interpreter's instructions), and counts a call still under way when the
    counters were zeroed (`calls=0`) as the caller's own instructions."""
    names: dict[str, str] = {}
    out: dict[str, int] = {"total": 0}
    where = EXTENSIONS
    skip = False  # the line after `calls=` is that call's inclusive cost
    with dump.open() as lines:
        for line in lines:
            if skip:
                skip = False
            elif line[:1].isdigit() or line[:1] in "+-*":
                fields = line.split()
                if len(fields) > 1:
                    out[where] = out.get(where, 0) + int(fields[1])
                    out["total"] += int(fields[1])
            elif line.startswith("calls="):
                skip = True
            elif line.startswith(("ob=", "cob=")):  # both name objects (`(id) name`, `(id)`)
                found = re.match(r"c?ob=(\(\d+\))?\s*(.*)$", line.rstrip("\n"))
                assert found is not None
                key, name = found.group(1) or "", found.group(2)
                if name:
                    names[key] = name
                if line.startswith("ob="):
                    obj = Path(names.get(key, name)).name
                    where = next((w for w, part in WHERES if part in obj), EXTENSIONS)
    return out


def _keep(dumps: list[Path], keep: Path | None) -> None:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        for dump in dumps:
            shutil.copy(dump, keep / dump.name)


def stage_slope(stage: str, keep: Path | None = None) -> dict[str, float]:
    """Instructions per event of `stage`, by where they ran (its two runs side by side)."""
    with tempfile.TemporaryDirectory() as tmp:
        prepared, token = prepare_store(Path(tmp))
        outs = [Path(tmp) / f"{stage}-{count}.out" for count in COUNTS]
        processes = [_callgrind([sys.executable, __file__, "--run", stage, str(count),
                                 str(prepared), token], out)
                     for count, out in zip(COUNTS, outs, strict=True)]
        if any(process.wait() != 0 for process in processes):
            raise SystemExit(f"stage {stage} failed")
        counted = [by_object(out) for out in outs]
        _keep(outs, keep)
    events = (COUNTS[1] - COUNTS[0]) * EVENTS_PER_ENVELOPE
    return {where: (counted[1].get(where, 0) - counted[0].get(where, 0)) / events
            for where in {*counted[0], *counted[1]}}


def http_per_event(envelopes: int, connections: int,
                   keep: Path | None = None) -> dict[str, float]:
    """Instructions per event of the `serve --projectors 0` process over HTTP."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # A port of the kernel's ephemeral range: the tests' servers take theirs below it, and
        # one could take a test port between the set-up server's stop and valgrind's start.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        setup = PlatformProcess(folder / "platform", port=port).start()  # store, token: unmeasured
        token = setup.token()
        setup.stop()
        out = folder / "callgrind.out"
        server = _callgrind([sys.executable, "-m", "timeledger", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--data-dir", str(folder / "platform"),
                             "--projectors", "0"], out)
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        try:
            deadline = time.monotonic() + 600
            while True:
                try:
                    httpx.get(url + "/healthz", timeout=60)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the platform did not start under valgrind") from None
                    time.sleep(0.5)  # waiting for a real process to come up under valgrind

            def control(*options: str) -> None:
                subprocess.run(["callgrind_control", *options, str(server.pid)], check=True,
                               stdout=subprocess.DEVNULL)

            with httpx.Client(base_url=url, headers=headers, limits=limits, timeout=600) as http, \
                    ThreadPoolExecutor(connections) as pool:
                def send(bodies: list[bytes]) -> None:
                    for reply in pool.map(lambda b: http.post("/caliper/event", content=b),
                                          bodies):
                        reply.raise_for_status()

                send(build_envelopes(connections))  # every connection open, warm
                bodies = build_envelopes(envelopes)
                # A dump, not a zeroing (-z): a zeroing leaves the functions under way with
                # what they had spent before it, which the next dump counts again.
                control("-d", "before")
                started = time.monotonic()
                send(bodies)
                control("-d", "envelopes")
                # Work done per second (uvicorn's tick, timers) weighs more at valgrind's pace.
                print(f"   http: {time.monotonic() - started:.1f} s under valgrind",
                      file=sys.stderr)
        finally:
            server.terminate()
            server.wait(300)
        dumps = [dump for dump in folder.glob("callgrind.out*")
                 if any(line.startswith("desc: Trigger:") and line.endswith(" envelopes")
                        for line in dump.read_text().splitlines()[:20])]
        if not dumps:
            raise SystemExit(f"no dump of the envelopes among {sorted(folder.glob('callgrind*'))}")
        dumps = [dump.rename(folder / f"http-{dump.name}") for dump in dumps]
        _keep(dumps, keep)
        total: dict[str, int] = {}
        for dump in dumps:  # one per thread with --separate-threads; one otherwise
            for where, count in by_object(dump).items():
                total[where] = total.get(where, 0) + count
    return {where: count / (envelopes * EVENTS_PER_ENVELOPE) for where, count in total.items()}


def _shares(figures: dict[str, float]) -> str:
    parts = [f"{where} {figures.get(where, 0) / 1000:.1f}k"
             for where in ("python", "extensions", "sqlite", "libc")]
    return f"{figures['total'] / 1000:7.1f}k  ({', '.join(parts)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"comma-separated, of {', '.join(STAGES)}")
    parser.add_argument("--http", action="store_true", help="also count serve over HTTP")
    parser.add_argument("--envelopes", type=int, default=40, help="with --http")
    parser.add_argument("--connections", type=int, default=4, help="with --http")
    parser.add_argument("--keep", type=Path, help="a folder to copy the callgrind dumps to")
    parser.add_argument("--run", nargs=4, metavar=("STAGE", "ENVELOPES", "STORE", "TOKEN"),
                        help="Only run a stage (the process callgrind counts).")
    args = parser.parse_args()
    if args.run is not None:
        run_stage(args.run[0], int(args.run[1]), Path(args.run[2]), args.run[3])
        return
    figures: dict[str, dict[str, float]] = {}
    for stage in [s for s in args.stages.split(",") if s]:
        figures[stage] = stage_slope(stage, args.keep)
        print(f"{stage:>7}: {_shares(figures[stage])} instructions per event", flush=True)
    if args.http:
        figures["http"] = http_per_event(args.envelopes, args.connections, args.keep)
        print(f"{'http':>7}: {_shares(figures['http'])} instructions per event", flush=True)
    print(" ".join(f"{stage}_instr={values['total']:.0f}" for stage, values in figures.items()))


if __name__ == "__main__":
    main()
