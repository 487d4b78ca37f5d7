"""Ingest throughput over HTTP against the raw ceiling of the same rows written by bare sqlite3.

Starts `timeledger serve` on a temp SQLite file, posts envelopes of 100 heartbeat events from a
client in another process, then writes the same event rows straight into the same schema with a
minimal sqlite3 script. Last line: `ingest_events_per_s=<n> raw_events_per_s=<n> ratio=<x>`.
Run: `.venv/bin/python bench/ingest.py [--envelopes 200] [--connections 4]`.

With `--db postgresql://...` it measures on that PostgreSQL instead (bench/ingest_pg.py: 1 and 2
server processes and the raw ceiling, in scratch databases it creates and drops); last line
`pg_ingest_events_per_s=<n> pg_raw_events_per_s=<n> ratio=<x>`. `bench/ingest_pg.py` without
`--db` starts a throwaway PostgreSQL of its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sqlite3
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the bench scripts: `bench.*`

from support.platform import PlatformProcess
from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    activity_url,
    envelope,
    time_spent_event,
)
from timeledger.server.ingestion import body_hash

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


def _client(base_url: str, token: str, bodies: list[bytes], connections: int,
            result: multiprocessing.Queue[float]) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    with httpx.Client(base_url=base_url, headers=headers, limits=limits, timeout=60) as http:
        http.post("/caliper/event/validate", content=bodies[0]).raise_for_status()  # warm up
        began = time.perf_counter()
        with ThreadPoolExecutor(connections) as pool:
            for reply in pool.map(lambda b: http.post("/caliper/event", content=b), bodies):
                reply.raise_for_status()
        result.put(time.perf_counter() - began)


def measure_http(folder: Path, bodies: list[bytes], connections: int) -> float:
    with PlatformProcess(folder / "platform") as platform:
        queue: multiprocessing.Queue[float] = multiprocessing.Queue()
        sender = multiprocessing.Process(target=_client, args=(
            platform.base_url, platform.token(), bodies, connections, queue))
        sender.start()
        elapsed = queue.get(timeout=3600)
        sender.join()
    db = sqlite3.connect(folder / "platform" / "timeledger.sqlite3")
    stored = db.execute("SELECT count(*) FROM events").fetchone()[0]
    if stored != len(bodies) * EVENTS_PER_ENVELOPE:
        expected = len(bodies) * EVENTS_PER_ENVELOPE
        raise SystemExit(f"expected {expected} stored events, got {stored}")
    return len(bodies) * EVENTS_PER_ENVELOPE / elapsed


def measure_raw(folder: Path, bodies: list[bytes]) -> float:
    """The same event rows, one transaction per envelope, into the schema the platform made."""
    db_file = folder / "platform" / "timeledger.sqlite3"
    raw_file = folder / "raw.sqlite3"
    schema = [row[0] for row in sqlite3.connect(db_file).execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")]
    db = sqlite3.connect(raw_file, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for statement in schema:
        db.execute(statement)
    rows_per_envelope = []
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    for body in bodies:
        data = json.loads(body)["data"]
        rows_per_envelope.append([
            (e["id"], body_hash(e), "event", e["type"], e["action"], e["profile"],
             e["actor"]["id"], e["actor"]["email"], e["extensions"]["runId"],
             e["eventTime"].replace("T", " ").rstrip("Z"), SENSOR, now, "job",
             json.dumps(e)) for e in data])
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
    parser.add_argument("--durability", choices=("full", "normal"), default=None,
                        help="With --db: synchronous_commit on (full) or off (normal, default).")
    args = parser.parse_args()
    if args.db is not None:
        from bench import ingest_pg  # the PostgreSQL bench; it imports this module's envelopes

        if not ingest_pg.is_postgres_url(args.db):
            parser.error(f"--db takes a postgresql:// URL, not {args.db!r}; without --db the "
                         "bench runs on a temp SQLite file")
        ingest_pg.run(args.db, args.envelopes, args.connections, args.durability or "normal")
        return
    if args.durability is not None:
        parser.error("--durability needs --db postgresql://...")
    bodies = build_envelopes(args.envelopes)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ingest = measure_http(folder, bodies, args.connections)
        raw = measure_raw(folder, bodies)
    print(f"envelopes={args.envelopes} events_per_envelope={EVENTS_PER_ENVELOPE} "
          f"connections={args.connections}")
    print(f"ingest_events_per_s={ingest:.0f} raw_events_per_s={raw:.0f} ratio={ingest / raw:.3f}")


if __name__ == "__main__":
    main()
