"""Ingest over HTTP against the raw ceiling of the same rows written by bare sqlite3.

Starts `timeledger serve` (API and projector process) on a temp SQLite file and measures:
- acknowledged throughput: envelopes of 100 heartbeats from 4 connections, until the last 200;
- end to end: from the first send until the projector has passed every event;
- projection lag: envelopes paced at half the acknowledged rate, each from its acknowledgement
  until its job is completed (p99);
- single-event envelopes (how the official Timeback client sends, one POST per event) against a
  bare authenticated no-op POST route on the same server (`serve --bench-baseline`);
- bytes per event: the store on disk after compaction and a checkpoint;
and writes the same event rows straight into the same schema with a minimal sqlite3 script, once
before the platform starts and once after it stops: the raw ceiling is their mean, so a machine
whose speed drifts during the run moves both sides of `ratio` alike (the line before the last
prints both, `raw_spread` their difference over the mean).
Last line: `ingest_events_per_s=<n> raw_events_per_s=<n> ratio=<x> e2e_ratio=<x>
lag_p99_ms=<n> bytes_per_event=<n>`; the line before it has `single_ratio=<x>`.
Run: `.venv/bin/python bench/ingest.py [--envelopes 200] [--connections 4] [--workers N]`
(`--workers`: serve's API processes on the SQLite file, default one).

With `--db postgresql://...` it measures on that PostgreSQL instead (bench/ingest_pg.py: 1 and 2
server processes and the raw ceiling, in scratch databases it creates and drops); last line
`pg_ingest_events_per_s=<n> pg_raw_events_per_s=<n> ratio=<x> ...`. `bench/ingest_pg.py`
without `--db` starts a throwaway PostgreSQL of its own.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `bench.*`, `tests.*`

from bench.storage import bytes_per_event
from tests.support.platform import PlatformProcess, run_cli
from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    activity_url,
    envelope,
    time_spent_event,
)
from timeledger.caliper.times import parse_utc
from timeledger.server.store.compact_keys import TERM_VALUES, uuid_bytes
from timeledger.server.store.schema import utc_microseconds

EVENTS_PER_ENVELOPE = 100
SENSOR = "https://bench.example.com"


def build_envelopes(count: int, learners: int = 50) -> list[bytes]:
    """Heartbeat envelopes: each learner runs one activity, windows every 15 s."""
    start = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    ref = ActivityRef(url=activity_url(SENSOR, "bench", subject="Math", grade=4), name="Bench",
                      subject="Math", app_name="Bench", course_id="math-4", course_name="Math G4")
    runs = [(Learner(f"bench{i}@example.edu", f"b{i}").actor(SENSOR), str(uuid.uuid4()))
            for i in range(learners)]
    bodies: list[bytes] = []
    window = 0
    for _ in range(count):
        events = []
        for _ in range(EVENTS_PER_ENVELOPE):
            actor, run_id = runs[window % learners]
            began = start + timedelta(seconds=15 * (window // learners))
            events.append(time_spent_event(actor=actor, activity=ref, run_id=run_id,
                                           started_at=began, ended_at=began + timedelta(seconds=15),
                                           active_ms=12000, inactive_ms=3000))
            window += 1
        bodies.append(orjson.dumps(envelope(SENSOR, events, datetime.now(UTC))))
    return bodies


@dataclass
class HttpFigures:
    acknowledged_per_s: float = 0.0
    end_to_end_per_s: float = 0.0
    lag_p99_ms: float = 0.0
    single_per_s: float = 0.0
    noop_per_s: float = 0.0
    bytes_per_event: float = 0.0


def _pool_post(http: httpx.Client, path: str, bodies: list[bytes], connections: int,
               ) -> list[httpx.Response]:
    with ThreadPoolExecutor(connections) as pool:
        replies = list(pool.map(lambda b: http.post(path, content=b), bodies))
    for reply in replies:
        reply.raise_for_status()
    return replies


def _until_caught_up(http: httpx.Client) -> None:
    """Poll how far projection has got until it has passed the log's head."""
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        through = http.get("/api/v1/projection").json()["projected_through"]
        if through["caught_up"]:
            return
        time.sleep(0.01)
    raise SystemExit("the projector did not catch up within an hour")


def _paced_lags(http: httpx.Client, bodies: list[bytes], events_per_s: float) -> list[float]:
    """Send envelopes at a steady rate; for each, the time from its acknowledgement until its
    job is completed (projected), in ms."""
    interval = EVENTS_PER_ENVELOPE / events_per_s
    lags: list[float] = []

    def follow(job_id: str, acknowledged: float) -> None:
        job = http.get(f"/jobs/{job_id}/status", params={"wait": 30}).json()["job"]
        if job["state"] != "completed":
            raise SystemExit(f"job {job_id} not projected within 30 s")
        lags.append((time.perf_counter() - acknowledged) * 1000)

    with ThreadPoolExecutor(8) as followers:
        began = time.perf_counter()
        for index, body in enumerate(bodies):
            pause = began + index * interval - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            reply = http.post("/caliper/event", content=body)
            reply.raise_for_status()
            followers.submit(follow, reply.json()["jobId"], time.perf_counter())
    return lags


def measure_http(folder: Path, bodies: list[bytes], connections: int,
                 serve_args: list[str] | None = None) -> HttpFigures:
    """Against one `timeledger serve` (API and its projector process) on a temp SQLite file."""
    figures = HttpFigures()
    limits = httpx.Limits(max_connections=connections + 8,
                          max_keepalive_connections=connections + 8)
    platform = PlatformProcess(folder / "platform",
                               extra_args=["--bench-baseline", *(serve_args or [])]).start()
    try:
        headers = {"Authorization": f"Bearer {platform.token()}",
                   "Content-Type": "application/json"}
        with httpx.Client(base_url=platform.base_url, headers=headers, limits=limits,
                          timeout=60) as http:
            http.post("/caliper/event/validate", content=bodies[0]).raise_for_status()  # warm up
            began = time.perf_counter()
            _pool_post(http, "/caliper/event", bodies, connections)
            acknowledged = time.perf_counter()
            _until_caught_up(http)
            projected = time.perf_counter()
            count = len(bodies) * EVENTS_PER_ENVELOPE
            figures.acknowledged_per_s = count / (acknowledged - began)
            figures.end_to_end_per_s = count / (projected - began)

            paced = build_envelopes(max(20, len(bodies) // 4))
            lags = sorted(_paced_lags(http, paced, figures.acknowledged_per_s / 2))
            figures.lag_p99_ms = lags[min(len(lags) - 1, round(0.99 * (len(lags) - 1)))]
            _until_caught_up(http)

            singles = build_single_events(len(bodies) * 10)
            began = time.perf_counter()
            _pool_post(http, "/caliper/event", singles, connections)
            figures.single_per_s = len(singles) / (time.perf_counter() - began)
            began = time.perf_counter()
            _pool_post(http, "/bench/noop", singles, connections)
            figures.noop_per_s = len(singles) / (time.perf_counter() - began)
            _until_caught_up(http)
    finally:
        platform.stop()
    db_file = folder / "platform" / "timeledger.sqlite3"
    stored = sqlite3.connect(db_file).execute("SELECT count(*) FROM events").fetchone()[0]
    expected = (len(bodies) + len(paced)) * EVENTS_PER_ENVELOPE + len(singles)
    if stored != expected:
        raise SystemExit(f"expected {expected} stored events, got {stored}")
    # Compaction runs while the projector is idle; finish it, then weigh the store.
    run_cli("compact", "--data-dir", str(folder / "platform"))
    figures.bytes_per_event = bytes_per_event(db_file)
    return figures


def build_single_events(count: int) -> list[bytes]:
    """Envelopes of one heartbeat each, as the official Timeback client sends them."""
    return [orjson.dumps({**envelope_body, "data": [event]})
            for body in build_envelopes((count + EVENTS_PER_ENVELOPE - 1) // EVENTS_PER_ENVELOPE)
            for envelope_body in [orjson.loads(body)]
            for event in envelope_body["data"]][:count]


def platform_schema(folder: Path) -> list[str]:
    """The statements of the schema `timeledger db upgrade` makes, from a store of its own."""
    run_cli("db", "upgrade", "--data-dir", str(folder))
    with sqlite3.connect(folder / "timeledger.sqlite3") as db:
        return [row[0] for row in db.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")]


def measure_raw(schema: list[str], raw_file: Path, bodies: list[bytes]) -> float:
    """The same event rows, one transaction per envelope, into a new file with `schema`."""
    db = sqlite3.connect(raw_file, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for statement in schema:
        db.execute(statement)
    rows_per_envelope = []
    now = utc_microseconds(datetime.now(UTC))
    text_ids: dict[str, int] = {}

    def interned(text: str) -> int:  # the texts' rows are written before the clock starts
        if text not in text_ids:
            text_ids[text] = db.execute("INSERT INTO interned_texts (value) VALUES (?)"
                                        " RETURNING id", (text,)).fetchone()[0]
        return text_ids[text]

    for body in bodies:
        data = json.loads(body)["data"]
        job_id = str(uuid.uuid4())
        # The values in the forms the platform's append writes them on SQLite: the event id as
        # 16 bytes, Caliper's terms as their codes, times as integer microseconds, the sensor,
        # actor id, e-mail and run id as the ids of their interned texts (migrations 0030 and
        # 0031), no digest (store/event_bodies.py).
        rows_per_envelope.append([
            (uuid_bytes(e["id"], "urn:uuid:"), "", TERM_VALUES["event"], TERM_VALUES[e["type"]],
             TERM_VALUES[e["action"]], TERM_VALUES[e["profile"]], interned(e["actor"]["id"]),
             interned(e["actor"]["email"]), interned(e["extensions"]["runId"]),
             utc_microseconds(parse_utc(e["eventTime"])), interned(SENSOR), now, job_id,
             orjson.dumps(e).decode()) for e in data])
    began = time.perf_counter()
    for rows in rows_per_envelope:
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO events (event_id, body_hash, kind, type, action, profile, actor_id, "
            "learner_email, run_id, event_time, sensor, received_at, job_id, body) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (event_id) DO NOTHING", rows)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - began
    return len(bodies) * EVENTS_PER_ENVELOPE / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envelopes", type=int, default=200)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--db", default=None, metavar="postgresql://...",
                        help="Measure on this PostgreSQL server (default: a temp SQLite file).")
    parser.add_argument("--projector-nice", type=int, default=None, metavar="N",
                        help="Passed to serve (default: serve's own, see docs/pipeline.md).")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="Passed to serve (default: serve's own, one API process).")
    parser.add_argument("--durability", choices=("full", "normal"), default=None,
                        help="With --db: synchronous_commit on (full) or off (normal, default).")
    args = parser.parse_args()
    if args.db is not None:
        from bench import ingest_pg  # the PostgreSQL bench; it imports this module's envelopes

        if not ingest_pg.is_postgres_url(args.db):
            parser.error(f"--db takes a postgresql:// URL, not {args.db!r}; without --db the "
                         "bench runs on a temp SQLite file")
        if args.workers is not None:
            parser.error("--workers is for the SQLite run; with --db the bench measures its "
                         "own layouts (one and two API processes)")
        ingest_pg.run(args.db, args.envelopes, args.connections, args.durability or "normal")
        return
    if args.durability is not None:
        parser.error("--durability needs --db postgresql://...")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers takes a number of API processes, at least 1")
    bodies = build_envelopes(args.envelopes)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        serve_args = [] if args.projector_nice is None else [
            "--projector-nice", str(args.projector_nice)]
        if args.workers is not None:
            serve_args += ["--workers", str(args.workers)]
        schema = platform_schema(folder / "schema")
        raw_before = measure_raw(schema, folder / "raw-before.sqlite3", bodies)
        http = measure_http(folder, bodies, args.connections, serve_args)
        raw_after = measure_raw(schema, folder / "raw-after.sqlite3", bodies)
    raw = (raw_before + raw_after) / 2
    shown_nice = "default" if args.projector_nice is None else args.projector_nice
    print(f"envelopes={args.envelopes} events_per_envelope={EVENTS_PER_ENVELOPE} "
          f"connections={args.connections} projector_nice={shown_nice} "
          f"workers={args.workers or 1}")
    print(f"end_to_end_events_per_s={http.end_to_end_per_s:.0f} "
          f"single_events_per_s={http.single_per_s:.0f} noop_posts_per_s={http.noop_per_s:.0f} "
          f"single_ratio={http.single_per_s / http.noop_per_s:.3f} "
          f"raw_before={raw_before:.0f} raw_after={raw_after:.0f} "
          f"raw_spread={abs(raw_before - raw_after) / raw:.3f}")
    print(f"ingest_events_per_s={http.acknowledged_per_s:.0f} raw_events_per_s={raw:.0f} "
          f"ratio={http.acknowledged_per_s / raw:.3f} e2e_ratio={http.end_to_end_per_s / raw:.3f} "
          f"lag_p99_ms={http.lag_p99_ms:.0f} bytes_per_event={http.bytes_per_event:.0f}")


if __name__ == "__main__":
    main()
