"""Ingest throughput on PostgreSQL with 1 and 2 server processes, against the raw row ceiling.

Starts a throwaway PostgreSQL cluster (tests/support/postgres.py: initdb + pg_ctl in a temp dir),
then for each measurement a fresh database: `timeledger serve --db postgresql://...` processes
(1, then 2 on the same database, the client alternating between them) receive the envelopes of
bench/ingest.py (100 heartbeat events each) from a client in another process; then the same event
rows are written straight into the events table with bare psycopg, one transaction per envelope,
over as many connections. Last line:
`pg_ingest_events_per_s=<n> pg_raw_events_per_s=<n> ratio=<x>` (ingest: the best server count).
Durability: by default `synchronous_commit=off` (a crash may lose the last commits, never corrupt:
like bench/ingest.py's SQLite in WAL with synchronous=NORMAL); `--durability full` waits for
the WAL flush on every commit; `--durability none` is the test suite's (fsync off).
Run: `.venv/bin/python bench/ingest_pg.py [--envelopes 200] [--connections 4] [--durability ...]`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
import orjson
import psycopg

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent / "tests")]

from ingest import EVENTS_PER_ENVELOPE, SENSOR, build_envelopes  # noqa: E402

from support.platform import PlatformProcess  # noqa: E402
from support.postgres import FAST_SETTINGS, PORT, PostgresCluster  # noqa: E402
from timeledger.server.ingestion import body_hash  # noqa: E402


def _client(base_urls: list[str], token: str, bodies: list[bytes], connections: int,
            result: multiprocessing.Queue[float]) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    clients = [httpx.Client(base_url=url, headers=headers, limits=limits, timeout=120)
               for url in base_urls]
    for client in clients:
        client.post("/caliper/event/validate", content=bodies[0]).raise_for_status()  # warm up

    def post(numbered: tuple[int, bytes]) -> httpx.Response:
        index, body = numbered
        return clients[index % len(clients)].post("/caliper/event", content=body)

    began = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        for reply in pool.map(post, enumerate(bodies)):
            reply.raise_for_status()
    result.put(time.perf_counter() - began)
    for client in clients:
        client.close()


def _count_events(cluster: PostgresCluster, database: str) -> int:
    with psycopg.connect(host=str(cluster.socket_dir), port=PORT, user="postgres",
                         dbname=database) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    count: int = row[0]
    return count


def measure_http(cluster: PostgresCluster, folder: Path, bodies: list[bytes], connections: int,
                 servers: int) -> float:
    url = cluster.new_database(f"ingest{servers}")
    database = url.split("/")[3].split("?")[0]
    platforms = [PlatformProcess(folder / f"server{servers}-{n}", db_url=url)
                 for n in range(servers)]
    try:
        for platform in platforms:
            platform.start()
        queue: multiprocessing.Queue[float] = multiprocessing.Queue()
        sender = multiprocessing.Process(target=_client, args=(
            [p.base_url for p in platforms], platforms[0].token(), bodies, connections, queue))
        sender.start()
        elapsed = queue.get(timeout=3600)
        sender.join()
    finally:
        for platform in platforms:
            platform.stop()
    stored = _count_events(cluster, database)
    if stored != len(bodies) * EVENTS_PER_ENVELOPE:
        raise SystemExit(f"expected {len(bodies) * EVENTS_PER_ENVELOPE} events, got {stored}")
    return len(bodies) * EVENTS_PER_ENVELOPE / elapsed


DURABILITY: dict[str, dict[str, str]] = {
    "full": {}, "normal": {"synchronous_commit": "off"}, "none": dict(FAST_SETTINGS)}

INSERT = ("INSERT INTO events (event_id, body_hash, kind, type, action, profile, actor_id, "
          "learner_email, run_id, event_time, sensor, received_at, job_id, body) "
          "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (event_id) DO NOTHING")


def measure_raw(cluster: PostgresCluster, bodies: list[bytes], connections: int) -> float:
    """The same event rows, one transaction per envelope, into a database the migrations made."""
    url = cluster.new_database("raw")
    database = url.split("/")[3].split("?")[0]
    now = datetime.now(UTC)
    batches = []
    for body in bodies:
        data = orjson.loads(body)["data"]
        batches.append([
            (e["id"], body_hash(e), "event", e["type"], e["action"], e["profile"],
             e["actor"]["id"], e["actor"]["email"], e["extensions"]["runId"],
             datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00")), SENSOR, now, "job",
             orjson.dumps(e).decode()) for e in data])

    def write(share: list[list[tuple[object, ...]]]) -> None:
        with psycopg.connect(host=str(cluster.socket_dir), port=PORT, user="postgres",
                             dbname=database) as conn:
            for rows in share:
                with conn.transaction(), conn.cursor() as cursor:
                    cursor.executemany(INSERT, rows)

    shares = [batches[n::connections] for n in range(connections)]
    began = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(write, shares))
    elapsed = time.perf_counter() - began
    stored = _count_events(cluster, database)
    if stored != len(bodies) * EVENTS_PER_ENVELOPE:
        raise SystemExit(f"raw: expected {len(bodies) * EVENTS_PER_ENVELOPE} rows, got {stored}")
    return len(bodies) * EVENTS_PER_ENVELOPE / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--envelopes", type=int, default=200)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--durability", choices=sorted(DURABILITY), default="normal")
    args = parser.parse_args()
    bodies = build_envelopes(args.envelopes)
    settings = DURABILITY[args.durability]
    with PostgresCluster(settings=settings) as cluster, TemporaryDirectory() as tmp:
        ingest = {servers: measure_http(cluster, Path(tmp), bodies, args.connections, servers)
                  for servers in (1, 2)}
        raw = measure_raw(cluster, bodies, args.connections)
    best = max(ingest.values())
    print(f"envelopes={args.envelopes} events_per_envelope={EVENTS_PER_ENVELOPE} "
          f"connections={args.connections} durability={args.durability} "
          f"cores={os.cpu_count()}")
    for servers, rate in ingest.items():
        print(f"servers={servers} ingest_events_per_s={rate:.0f}")
    print(f"pg_ingest_events_per_s={best:.0f} pg_raw_events_per_s={raw:.0f} "
          f"ratio={best / raw:.3f}")


if __name__ == "__main__":
    main()
