"""Ingest on PostgreSQL: acknowledged and end-to-end rates per layout, the raw ceiling, lock waits.

The server: `--db postgresql://user:pw@host/db` uses that PostgreSQL (the user must be allowed to
CREATE DATABASE; the database in the URL is only connected to); without `--db`, a throwaway
cluster is started (tests/support/postgres.py: initdb + pg_ctl in a temp dir), so the bench needs
only the PostgreSQL server binaries. Each measurement gets a scratch database of its own, created
and migrated (`timeledger db upgrade`'s migrations) here and dropped at the end.

Three layouts on one database each, all started on this host: API processes
(`timeledger serve --projectors 0`) and projector processes (`timeledger project`):
1 API and no projector (the append alone), 1 API with 1 projector, 2 APIs with 2 projectors.
A client in another process posts the envelopes of bench/ingest.py (100 heartbeat events each) over
`--connections` connections, alternating between the APIs, once every API answers and every
projector has connected (a projector's start, over a second of CPU importing, is not ingest's). For
each layout it prints the acknowledged rate (first send to last acknowledgement) and, with
projectors, the end-to-end rate (first send until every event is projected: `projector_positions`
has passed every partition's head). Then the same event rows (with their partition and writing
transaction) are written straight into the events table with bare psycopg, one transaction per
envelope, over as many connections (threads of this process): the raw ceiling, in two forms,
`executemany` of a one-row INSERT (`raw=executemany`, the `ratio`'s baseline, also measured before
the layouts) and one INSERT over column arrays (`raw=unnest`, the form the API's append uses;
`unnest_raw_ratio`). Beside each rate, where the CPU went while it ran (Linux /proc): the cores the
whole machine kept busy (other work on it included) and the CPU seconds of the API and projector
processes (for the raw writes, of this process) and, on the throwaway cluster, of PostgreSQL's
processes (`db_cpu_s`). With every core busy, more processes cannot go faster; the CPU seconds per
event do not depend on other work.

While the layouts with projectors run, `pg_locks` (ungranted) joined with `pg_stat_activity` is
sampled every 50 ms: it prints the share of samples in which some backend of the database waited
on a lock, and on which relation (the tuple lock a row waiter holds, else the table its statement
names). Last line:
`pg_ingest_events_per_s=<n> pg_raw_events_per_s=<n> ratio=<x> scale_ratio=<x> lock_wait_share=<x>
unnest_raw_ratio=<x>` (ingest: the best acknowledged rate of the layouts with projectors;
raw: the mean of `raw=executemany` measured before the layouts and after them, which the line
before the last prints with their spread, since the ceiling alone moved by a fifth between runs;
scale_ratio: end to end, 2 APIs with 2 projectors against 1 with 1).
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
import re
import subprocess
import sys
import threading
import time
from collections import Counter
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
sys.path.insert(0, str(BENCH.parent))  # the repo root: `bench.*`, `tests.*`

from bench.ingest import EVENTS_PER_ENVELOPE, SENSOR, build_envelopes  # noqa: E402
from tests.support.platform import PlatformProcess  # noqa: E402
from tests.support.postgres import FAST_SETTINGS, PostgresCluster  # noqa: E402
from timeledger.server.store.database import create_engine  # noqa: E402
from timeledger.server.store.event_bodies import content_digest  # noqa: E402
from timeledger.server.store.migrate import upgrade  # noqa: E402
from timeledger.server.store.partitions import (  # noqa: E402
    learner_partition,
    partition_count,
)

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
    postmaster_pid: int | None = None  # known for the throwaway cluster: its CPU is measured

    def cpu_seconds(self) -> float | None:
        """CPU seconds the server's processes have used (Linux): the live ones, and those that
        ended, which the postmaster counts once it has reaped them. None for a given server."""
        if self.postmaster_pid is None:
            return None
        total = _process_seconds(self.postmaster_pid, reaped_children=True)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and _parent_pid(int(entry.name)) == self.postmaster_pid:
                total += _process_seconds(int(entry.name))
        return total

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
            postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
            yield Server(cluster.url(), postmaster_pid=postmaster), "throwaway"
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
            result: multiprocessing.Queue[tuple[float, float]]) -> None:
    """Post every body; put (first send, last acknowledgement) on `time.monotonic()`, which is
    one clock for every process of the host."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    clients = [httpx.Client(base_url=url, headers=headers, limits=limits, timeout=120)
               for url in base_urls]
    for client in clients:
        client.post("/caliper/event/validate", content=bodies[0]).raise_for_status()  # warm up

    def post(numbered: tuple[int, bytes]) -> httpx.Response:
        index, body = numbered
        return clients[index % len(clients)].post("/caliper/event", content=body)

    began = time.monotonic()
    with ThreadPoolExecutor(connections) as pool:
        for reply in pool.map(post, enumerate(bodies)):
            reply.raise_for_status()
    result.put((began, time.monotonic()))
    for client in clients:
        client.close()


@dataclass(frozen=True)
class Layout:
    apis: int
    projectors: int


LAYOUTS = (Layout(1, 0), Layout(1, 1), Layout(2, 2))
#: How long the projectors may take to catch up after the last acknowledgement.
CATCH_UP_DEADLINE_S = 900.0
PROJECTOR_START_DEADLINE_S = 120.0
POLL_S = 0.05


@dataclass
class LayoutResult:
    layout: Layout
    acked_per_s: float
    end_to_end_per_s: float | None
    lock_samples: int = 0
    lock_waits: Counter[str] = field(default_factory=Counter)
    samples_waiting: int = 0
    cpu: CpuUse | None = None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_ticks() -> tuple[int, int] | None:
    """(busy, total) CPU ticks of the whole machine since boot (Linux /proc/stat)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the process name (Linux); None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _parent_pid(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def _process_seconds(pid: int, reaped_children: bool = False) -> float:
    """User + system CPU seconds of a live process, its threads included (Linux); with
    `reaped_children`, also those of its children that ended and were waited for."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


@dataclass(frozen=True)
class CpuUse:
    """Where the CPU went while a layout ran: the whole machine (other work on it included),
    and the API and projector processes."""

    machine_busy_cores: float
    api_s: float
    projector_s: float
    wall_s: float
    database_s: float | None = None  # the PostgreSQL server's processes (throwaway cluster)

    def line(self) -> str:
        database = "" if self.database_s is None else f" db_cpu_s={self.database_s:.1f}"
        return (f" (machine_busy_cores={self.machine_busy_cores:.2f} api_cpu_s={self.api_s:.1f} "
                f"projector_cpu_s={self.projector_s:.1f}{database} wall_s={self.wall_s:.1f})")


class CpuMeter:
    def __init__(self, api_pids: list[int], projector_pids: list[int],
                 server: Server | None = None) -> None:
        self._apis = api_pids
        self._projectors = projector_pids
        self._server = server
        self._machine = _machine_ticks()
        self._began = time.monotonic()
        self._api_s = self._api_seconds()
        self._projector_s = sum(map(_process_seconds, projector_pids))
        self._database_s = server.cpu_seconds() if server is not None else None

    def _api_seconds(self) -> float:
        """The API processes' CPU; with none (the raw writes), this process's own."""
        return sum(map(_process_seconds, self._apis)) if self._apis else time.process_time()

    def read(self) -> CpuUse | None:
        machine = _machine_ticks()
        if machine is None or self._machine is None:
            return None
        busy, total = (now - then for now, then in zip(machine, self._machine, strict=True))
        database = self._server.cpu_seconds() if self._server is not None else None
        return CpuUse(busy / total * (os.cpu_count() or 1) if total else 0.0,
                      self._api_seconds() - self._api_s,
                      sum(map(_process_seconds, self._projectors)) - self._projector_s,
                      time.monotonic() - self._began,
                      None if database is None or self._database_s is None
                      else database - self._database_s)


# A backend waiting for a row holds the row's tuple lock: that names the relation; a wait with
# no tuple lock (an index entry, a transaction) is named by the table its statement writes.
WAITING_LOCKS = """
SELECT l.pid, l.locktype, a.wait_event, left(a.query, 300) AS query,
       (SELECT string_agg(DISTINCT t.relation::regclass::text, ',') FROM pg_locks t
         WHERE t.pid = l.pid AND t.locktype = 'tuple') AS tuple_relations,
       l.relation::regclass::text AS relation
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE NOT l.granted AND a.datname = %s AND a.wait_event_type = 'Lock'
"""
STATEMENT_TABLE = re.compile(r"\b(?:INSERT INTO|UPDATE|DELETE FROM|FROM)\s+\"?(\w+)", re.I)


def _wait_label(locktype: str, query: str, tuple_relations: str | None,
                relation: str | None) -> str:
    named = tuple_relations or relation
    if named is None:
        found = STATEMENT_TABLE.search(query)
        named = found[1] if found else "?"
    return f"{named} ({locktype})"


class LockSampler:
    """Samples the database's lock waits every POLL_S seconds in a thread, until stopped."""

    def __init__(self, server: Server, database: str) -> None:
        self._server = server
        self._database = database
        self._stop = threading.Event()
        self.samples = 0
        self.samples_waiting = 0
        self.waits: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with self._server.connect(self._database, autocommit=True) as conn:
            while not self._stop.wait(POLL_S):
                rows = conn.execute(WAITING_LOCKS, (self._database,)).fetchall()
                self.samples += 1
                if rows:
                    self.samples_waiting += 1
                for labels in {_wait_label(r[1], r[3], r[4], r[5]) for r in rows}:
                    self.waits[labels] += 1


def _caught_up(conn: psycopg.Connection[tuple[Any, ...]]) -> bool:
    """Every partition's position has passed the newest row of that partition (`conn` in
    autocommit, kept open while polling: a new connection is a new backend process, whose start
    would count in the server's CPU)."""
    row = conn.execute(
        "SELECT count(*) FROM projector_positions p CROSS JOIN LATERAL ("
        " SELECT e.xact, e.seq FROM events e WHERE e.partition = p.partition"
        " ORDER BY e.xact DESC, e.seq DESC LIMIT 1) h"
        " WHERE (p.xact, p.seq) < (h.xact, h.seq)").fetchone()
    assert row is not None
    return int(row[0]) == 0


def _start_projectors(url: str, count: int, folder: Path) -> list[subprocess.Popen[bytes]]:
    """`count` projector processes, each connecting as `_projector_name(n)`."""
    log = (folder / "projectors.log").open("ab")
    return [subprocess.Popen(
        [sys.executable, "-m", "timeledger", "project", "--db",
         sa.make_url(url).update_query_dict({"application_name": _projector_name(n)})
         .render_as_string(hide_password=False)],
        stdout=log, stderr=subprocess.STDOUT) for n in range(count)]


def _projector_name(n: int) -> str:
    return f"bench-projector-{n}"


def _wait_for_projectors(server: Server, database: str,
                         children: list[subprocess.Popen[bytes]]) -> None:
    """Until every projector has connected to the database: a projector process takes over a
    second of CPU to start (its imports), which is not the ingest's to pay for, and which
    overlapped the acknowledged phase when the client started at once."""
    names = [_projector_name(n) for n in range(len(children))]
    deadline = time.monotonic() + PROJECTOR_START_DEADLINE_S
    with server.connect(database, autocommit=True) as conn:
        while True:
            connected = {name for name, in conn.execute(
                "SELECT DISTINCT application_name FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = ANY(%s)", [names])}
            if connected == set(names):
                return
            if any(child.poll() is not None for child in children):
                raise SystemExit("a projector exited while starting (see projectors.log)")
            if time.monotonic() > deadline:
                raise SystemExit(f"projectors not connected after "
                                 f"{PROJECTOR_START_DEADLINE_S:.0f} s: {sorted(connected)}")
            time.sleep(POLL_S)


def _stop_projectors(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        child.terminate()
    for child in children:
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def measure_layout(server: Server, folder: Path, bodies: list[bytes], connections: int,
                   layout: Layout) -> LayoutResult:
    label = f"a{layout.apis}p{layout.projectors}"
    database = server.new_database(label)
    url = server.url_of(database)
    folder = folder / label
    folder.mkdir()
    apis = [PlatformProcess(folder / f"api{n}", db_url=url, extra_args=["--projectors", "0"])
            for n in range(layout.apis)]
    projectors: list[subprocess.Popen[bytes]] = []
    expected = len(bodies) * EVENTS_PER_ENVELOPE
    try:
        for api in apis:
            api.start()
        projectors = _start_projectors(url, layout.projectors, folder)
        _wait_for_projectors(server, database, projectors)
        queue: multiprocessing.Queue[tuple[float, float]] = multiprocessing.Queue()
        sender = multiprocessing.Process(target=_client, args=(
            [api.base_url for api in apis], apis[0].token(), bodies, connections, queue))
        meter = CpuMeter([api.process.pid for api in apis if api.process is not None],
                         [child.pid for child in projectors], server)
        with LockSampler(server, database) as sampler:
            sender.start()
            began, acked = queue.get(timeout=3600)
            sender.join()
            projected: float | None = None
            if layout.projectors:
                deadline = time.monotonic() + CATCH_UP_DEADLINE_S
                with server.connect(database, autocommit=True) as polling:
                    while not _caught_up(polling):
                        if time.monotonic() > deadline:
                            raise SystemExit(f"{label}: projectors not caught up after "
                                             f"{CATCH_UP_DEADLINE_S:.0f} s")
                        time.sleep(POLL_S)  # a real projector process catching up
                projected = time.monotonic()
            cpu = meter.read()
    finally:
        for api in apis:
            api.stop()
        _stop_projectors(projectors)
    stored = server.count_events(database)
    if stored != expected:
        raise SystemExit(f"{label}: expected {expected} events, got {stored}")
    return LayoutResult(
        layout, expected / (acked - began),
        expected / (projected - began) if projected is not None else None,
        sampler.samples, sampler.waits, sampler.samples_waiting, cpu)


RAW_COLUMNS = ("event_id, body_hash, kind, type, action, profile, actor_id, learner_email, "
               "run_id, event_time, sensor, received_at, job_id, body, partition")
INSERT = (f"INSERT INTO events ({RAW_COLUMNS}, xact) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
          "%s,%s,%s,%s,pg_current_xact_id()::text::bigint) ON CONFLICT (event_id) DO NOTHING")
INSERT_UNNEST = (f"INSERT INTO events ({RAW_COLUMNS}, xact) SELECT *, "
                 "pg_current_xact_id()::text::bigint FROM unnest(%b::text[], %b::text[], "
                 "%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], "
                 "%b::text[], %b::timestamptz[], %b::text[], %b::timestamptz[], %b::text[], "
                 "%b::text[], %b::int2[]) ON CONFLICT (event_id) DO NOTHING")
#: How the raw ceiling writes an envelope's rows: `executemany` of a one-row INSERT (psycopg
#: pipelines it), or one INSERT over column arrays (as the API's append does).
RAW_FORMS = ("executemany", "unnest")


@dataclass(frozen=True)
class RawResult:
    form: str
    events_per_s: float
    cpu: CpuUse | None


def measure_raw(server: Server, bodies: list[bytes], connections: int,
                form: str) -> RawResult:
    """The same event rows, one transaction per envelope, into a database the migrations made,
    by `connections` threads of this process, each on its own connection."""
    database = server.new_database(f"raw_{form}")
    now = datetime.now(UTC)
    partitions = partition_count("postgresql")
    batches: list[Any] = []
    for body in bodies:
        data = orjson.loads(body)["data"]
        rows = [
            (e["id"], content_digest(e), "event", e["type"], e["action"], e["profile"],
             e["actor"]["id"], e["actor"]["email"], e["extensions"]["runId"],
             datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00")), SENSOR, now, "job",
             orjson.dumps(e).decode(), learner_partition(e["actor"]["email"], partitions))
            for e in data]
        batches.append(rows if form == "executemany"
                       else [list(column) for column in zip(*rows, strict=True)])

    def write(share: list[Any]) -> None:
        with server.connect(database) as conn:
            for rows in share:
                with conn.transaction(), conn.cursor() as cursor:
                    if form == "executemany":
                        cursor.executemany(INSERT, rows)
                    else:
                        cursor.execute(INSERT_UNNEST, rows)

    shares = [batches[n::connections] for n in range(connections)]
    meter = CpuMeter([], [], server)
    began = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(write, shares))
    elapsed = time.perf_counter() - began
    cpu = meter.read()
    stored = server.count_events(database)
    if stored != len(bodies) * EVENTS_PER_ENVELOPE:
        raise SystemExit(f"raw: expected {len(bodies) * EVENTS_PER_ENVELOPE} rows, got {stored}")
    return RawResult(form, len(bodies) * EVENTS_PER_ENVELOPE / elapsed, cpu)


def run(db_url: str | None, envelopes: int, connections: int, durability: str) -> None:
    """Measure and print; the last line is the summary the issue asks for."""
    if envelopes < 1 or connections < 1:
        raise SystemExit("--envelopes and --connections must be at least 1")
    bodies = build_envelopes(envelopes)
    with open_server(db_url, durability) as (server, kind), TemporaryDirectory() as tmp:
        raw_before = measure_raw(server, bodies, connections, RAW_FORMS[0])
        results = [measure_layout(server, Path(tmp), bodies, connections, layout)
                   for layout in LAYOUTS]
        raws = [measure_raw(server, bodies, connections, form) for form in RAW_FORMS]
        version = server.setting("server_version")
    print(f"envelopes={envelopes} events_per_envelope={EVENTS_PER_ENVELOPE} "
          f"connections={connections} durability={durability} cores={os.cpu_count()} "
          f"server={kind} postgresql={version.split()[0]}")
    for result in results:
        line = (f"apis={result.layout.apis} projectors={result.layout.projectors} "
                f"acked_events_per_s={result.acked_per_s:.0f}")
        if result.end_to_end_per_s is not None:
            line += f" end_to_end_events_per_s={result.end_to_end_per_s:.0f}"
        if result.cpu is not None:
            line += result.cpu.line()
        print(line)
    for raw_result in raws:  # api_cpu_s: the writing threads of this process
        print(f"raw={raw_result.form} raw_events_per_s={raw_result.events_per_s:.0f}"
              + (raw_result.cpu.line() if raw_result.cpu is not None else ""))
    projecting = [r for r in results if r.layout.projectors]
    samples = sum(r.lock_samples for r in projecting)
    waiting = sum(r.samples_waiting for r in projecting)
    waits: Counter[str] = sum((r.lock_waits for r in projecting), Counter())
    share = waiting / samples if samples else 0.0
    named = ", ".join(f"{label}: {count}" for label, count in waits.most_common()) or "none"
    print(f"lock_samples={samples} samples_with_a_lock_wait={waiting} waits_by_relation: {named}")
    best = max(r.acked_per_s for r in projecting)
    one, two = (next(r for r in projecting if r.layout == Layout(n, n)) for n in (1, 2))
    assert one.end_to_end_per_s and two.end_to_end_per_s
    raw_after, unnest = (r.events_per_s for r in raws)
    raw = (raw_before.events_per_s + raw_after) / 2
    print(f"raw_before={raw_before.events_per_s:.0f} raw_after={raw_after:.0f} "
          f"raw_spread={abs(raw_before.events_per_s - raw_after) / raw:.3f}")
    print(f"pg_ingest_events_per_s={best:.0f} pg_raw_events_per_s={raw:.0f} "
          f"ratio={best / raw:.3f} scale_ratio={two.end_to_end_per_s / one.end_to_end_per_s:.3f} "
          f"lock_wait_share={share:.3f} unnest_raw_ratio={best / unnest:.3f}")


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
