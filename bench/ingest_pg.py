"""Ingest throughput on PostgreSQL with 1 and 2 server processes, against the raw row ceiling.

The server: `--db postgresql://user:pw@host/db` uses that PostgreSQL (the user must be allowed to
CREATE DATABASE; the database in the URL is only connected to); without `--db`, a throwaway
cluster is started (tests/support/postgres.py: initdb + pg_ctl in a temp dir), so the bench needs
only the PostgreSQL server binaries. Each measurement gets a scratch database of its own, created
and migrated (`timeledger db upgrade`'s migrations) here and dropped at the end.

For each server count, `timeledger serve --db postgresql://...` processes (1, then 2 on the same
database, the client alternating between them) receive the envelopes of bench/ingest.py (100
heartbeat events each) from a client in another process; then the same event rows are written
straight into the events table with bare psycopg, one transaction per envelope, over as many
connections. Last line:
`pg_ingest_events_per_s=<n> pg_raw_events_per_s=<n> ratio=<x>` (ingest: the best server count).
Durability: by default `synchronous_commit=off` (a crash may lose the last commits, never corrupt:
like bench/ingest.py's SQLite in WAL with synchronous=NORMAL); `--durability full` waits for
the WAL flush on every commit; `--durability none` is the test suite's (fsync off; throwaway
cluster only, since fsync is a server-wide setting). On a given server the setting is made per
scratch database (`ALTER DATABASE ... SET synchronous_commit`).
Run: `.venv/bin/python bench/ingest.py --db postgresql://... [--envelopes 200] [--connections 4]
[--durability ...]`, or `.venv/bin/python bench/ingest_pg.py [the same options]` (`--db` optional).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import orjson
import psycopg
import sqlalchemy as sa
from psycopg import sql

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH.parent / "tests")]

from bench.ingest import EVENTS_PER_ENVELOPE, SENSOR, build_envelopes  # noqa: E402

from support.platform import PlatformProcess  # noqa: E402
from support.postgres import FAST_SETTINGS, PostgresCluster  # noqa: E402
from timeledger.server.ingestion import body_hash  # noqa: E402
from timeledger.server.store.database import create_engine  # noqa: E402
from timeledger.server.store.migrate import upgrade  # noqa: E402

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")

# Server-wide settings for the throwaway cluster; on a given server, per-database settings.
DURABILITY: dict[str, dict[str, str]] = {
    "full": {}, "normal": {"synchronous_commit": "off"}, "none": dict(FAST_SETTINGS)}
DATABASE_DURABILITY: dict[str, dict[str, str]] = {
    "full": {"synchronous_commit": "on"}, "normal": {"synchronous_commit": "off"}}


def is_postgres_url(url: str) -> bool:
    return url.split("://", 1)[0] in POSTGRES_SCHEMES and "://" in url


@dataclass
class Server:
    """A PostgreSQL server reached by `url`, on which scratch databases are made and dropped."""

    url: str  # any database on the server: the one CREATE/DROP DATABASE is run from
    database_settings: dict[str, str] = field(default_factory=dict)
    made: list[str] = field(default_factory=list)

    @property
    def _libpq_url(self) -> sa.URL:
        return sa.make_url(self.url).set(drivername="postgresql")

    def connect(self, database: str | None = None, *,
                autocommit: bool = False) -> psycopg.Connection[tuple[Any, ...]]:
        url = self._libpq_url if database is None else self._libpq_url.set(database=database)
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=autocommit)

    def url_of(self, database: str) -> str:
        """The URL `timeledger serve --db` takes for a database on this server."""
        return self._libpq_url.set(database=database).render_as_string(hide_password=False)

    def new_database(self, label: str) -> str:
        """A fresh database, migrated to the latest schema; its name."""
        name = f"tlbench_{os.getpid()}_{label}"
        with self.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            self.made.append(name)
            for key, value in self.database_settings.items():
                conn.execute(sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                    sql.Identifier(name), sql.Identifier(key), sql.Literal(value)))
        engine = create_engine(self.url_of(name))
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        return name

    def setting(self, name: str, database: str | None = None) -> str:
        with self.connect(database) as conn:
            row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
        assert row is not None
        return str(row[0])

    def count_events(self, database: str) -> int:
        with self.connect(database) as conn:
            row = conn.execute("SELECT count(*) FROM events").fetchone()
        assert row is not None
        count: int = row[0]
        return count

    def drop_made(self) -> None:
        with self.connect(autocommit=True) as conn:
            while self.made:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.made.pop())))


@contextmanager
def open_server(db_url: str | None, durability: str) -> Iterator[tuple[Server, str]]:
    """The given server (scratch databases dropped at the end), or a throwaway cluster."""
    if db_url is None:
        with PostgresCluster(settings=DURABILITY[durability]) as cluster:
            yield Server(cluster.url()), "throwaway"
        return
    if durability not in DATABASE_DURABILITY:
        raise SystemExit(f"--durability {durability} changes server-wide settings (fsync): "
                         "only for the throwaway cluster (run without --db)")
    server = Server(db_url, dict(DATABASE_DURABILITY[durability]))
    try:
        server.setting("server_version")
    except psycopg.OperationalError as exc:
        raise SystemExit(f"cannot connect to {sa.make_url(db_url)!r}: {exc}") from None
    try:
        yield server, "given"
    finally:
        server.drop_made()


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


def measure_http(server: Server, folder: Path, bodies: list[bytes], connections: int,
                 servers: int) -> float:
    database = server.new_database(f"ingest{servers}")
    platforms = [PlatformProcess(folder / f"server{servers}-{n}", db_url=server.url_of(database))
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
    stored = server.count_events(database)
    if stored != len(bodies) * EVENTS_PER_ENVELOPE:
        raise SystemExit(f"expected {len(bodies) * EVENTS_PER_ENVELOPE} events, got {stored}")
    return len(bodies) * EVENTS_PER_ENVELOPE / elapsed


INSERT = ("INSERT INTO events (event_id, body_hash, kind, type, action, profile, actor_id, "
          "learner_email, run_id, event_time, sensor, received_at, job_id, body) "
          "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (event_id) DO NOTHING")


def measure_raw(server: Server, bodies: list[bytes], connections: int) -> float:
    """The same event rows, one transaction per envelope, into a database the migrations made."""
    database = server.new_database("raw")
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
        with server.connect(database) as conn:
            for rows in share:
                with conn.transaction(), conn.cursor() as cursor:
                    cursor.executemany(INSERT, rows)

    shares = [batches[n::connections] for n in range(connections)]
    began = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(write, shares))
    elapsed = time.perf_counter() - began
    stored = server.count_events(database)
    if stored != len(bodies) * EVENTS_PER_ENVELOPE:
        raise SystemExit(f"raw: expected {len(bodies) * EVENTS_PER_ENVELOPE} rows, got {stored}")
    return len(bodies) * EVENTS_PER_ENVELOPE / elapsed


def run(db_url: str | None, envelopes: int, connections: int, durability: str) -> None:
    """Measure and print; the last line is the summary the issue asks for."""
    if envelopes < 1 or connections < 1:
        raise SystemExit("--envelopes and --connections must be at least 1")
    bodies = build_envelopes(envelopes)
    with open_server(db_url, durability) as (server, kind), TemporaryDirectory() as tmp:
        ingest = {servers: measure_http(server, Path(tmp), bodies, connections, servers)
                  for servers in (1, 2)}
        raw = measure_raw(server, bodies, connections)
        version = server.setting("server_version")
    best = max(ingest.values())
    print(f"envelopes={envelopes} events_per_envelope={EVENTS_PER_ENVELOPE} "
          f"connections={connections} durability={durability} cores={os.cpu_count()} "
          f"server={kind} postgresql={version.split()[0]}")
    for servers, rate in ingest.items():
        print(f"servers={servers} ingest_events_per_s={rate:.0f}")
    print(f"pg_ingest_events_per_s={best:.0f} pg_raw_events_per_s={raw:.0f} "
          f"ratio={best / raw:.3f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", default=None, metavar="postgresql://...",
                        help="An existing PostgreSQL server (default: a throwaway cluster).")
    parser.add_argument("--envelopes", type=int, default=200)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--durability", choices=sorted(DURABILITY), default="normal")
    args = parser.parse_args(argv)
    if args.db is not None and not is_postgres_url(args.db):
        parser.error(f"--db takes a postgresql:// URL, not {args.db!r}")
    run(args.db, args.envelopes, args.connections, args.durability)


if __name__ == "__main__":
    main()
