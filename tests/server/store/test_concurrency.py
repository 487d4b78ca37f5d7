"""Many writers, one PostgreSQL: the projections equal those of one process fed the stream once."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.support.events import SENSOR, T0, activity
from tests.support.platform import PlatformProcess
from tests.support.postgres import Backend
from timeledger.caliper.builders import (
    Learner,
    completed_event,
    envelope,
    stable_event_id,
    time_spent_event,
)
from timeledger.caliper.envelope import parse_envelope
from timeledger.caliper.metrics import Metrics
from timeledger.server.platform import Platform, open_platform
from timeledger.server.settings import Settings
from timeledger.server.store.database import create_engine, sqlite_url
from timeledger.server.store.event_bodies import content_digest
from timeledger.server.store.schema import events

pytestmark = pytest.mark.backends("pg")

ROSTER = "https://roster.example.com"
ACCEPTED = {"stored", "duplicate", "duplicate_window", "duplicate_completion"}


# --- a deterministic stream: per client (one learner), its envelopes in the order it sends --

@dataclass
class Stream:
    clients: list[list[bytes]] = field(default_factory=list)
    event_ids: set[str] = field(default_factory=set)
    resent_windows: int = 0

    def interleaved(self) -> Iterator[bytes]:
        """One global order that keeps each client's own order: round robin over clients."""
        longest = max(len(c) for c in self.clients)
        for index in range(longest):
            for client in self.clients:
                if index < len(client):
                    yield client[index]


def _event_id(*parts: object) -> str:
    return stable_event_id(*(str(p) for p in parts))


def make_stream(seed: int, learners: int, runs: int, windows: int,
                resend_window_share: float = 0.1) -> Stream:
    """Learners doing runs of heartbeat windows and a completion; some windows are sent again
    later under a new event id (an app that lost its outbox ids), which must count once."""
    rng = random.Random(seed)
    stream = Stream()
    refs = [activity(f"lesson-{n}", f"Lesson {n}") for n in range(3)]
    for number in range(learners):
        email = f"stream{seed}-{number}@example.edu"
        actor = Learner(email, f"s{seed}-{number}").actor(ROSTER)
        items: list[dict[str, Any]] = []
        resends: list[dict[str, Any]] = []
        start = T0 + timedelta(minutes=7 * number)
        for run in range(runs):
            run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            ref = refs[(number + run) % len(refs)]
            for window in range(windows):
                active = rng.choice((15, 20, 30))
                inactive = rng.choice((0, 0, 5))
                item = time_spent_event(
                    actor=actor, activity=ref, run_id=run_id, started_at=start,
                    ended_at=start + timedelta(seconds=active + inactive), active_ms=active * 1000,
                    inactive_ms=inactive * 1000, event_id=_event_id(seed, number, run, window))
                item["generated"]["id"] = _event_id(seed, number, run, window, "generated")
                items.append(item)
                if rng.random() < resend_window_share:
                    resends.append({**item, "id": _event_id(seed, number, run, window, "again")})
                start += timedelta(seconds=active + inactive)
            done = completed_event(
                actor=actor, activity=ref, run_id=run_id, ended_at=start,
                metrics=Metrics(xp_earned=rng.choice((5, 8, 10, -2)), total_questions=10,
                                correct_questions=rng.randint(4, 10),
                                mastered_units=rng.randint(0, 3),
                                pct_complete=float(10 * (run + 1))),
                attempt=1 + run % 2, event_id=_event_id(seed, number, run, "done"))
            done["generated"]["id"] = _event_id(seed, number, run, "done", "generated")
            items.append(done)
            items += resends  # the resent windows of this run follow its completion
            stream.resent_windows += len(resends)
            resends = []
            start += timedelta(minutes=3)
        envelopes: list[bytes] = []
        while items:
            size = rng.randint(1, 4)
            batch, items = items[:size], items[size:]
            envelopes.append(orjson.dumps(envelope(SENSOR, batch, T0)))
        stream.clients.append(envelopes)
        stream.event_ids |= {e["id"] for raw in envelopes for e in orjson.loads(raw)["data"]}
    return stream


# --- what the projections hold, with log positions (seq) replaced by the event they point to --

def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection's rows, sorted; seq columns name the event, since seq values differ."""
    from timeledger.server.store.projection_tables import PROJECTION_TABLES

    with engine.connect() as conn:
        ids = {seq: event_id for seq, event_id
               in conn.execute(sa.select(events.c.seq, events.c.event_id))}
        tables: dict[str, list[tuple[Any, ...]]] = {}
        for table in PROJECTION_TABLES:
            names = [column.name for column in table.columns]
            rows = [tuple(ids.get(value, ("missing seq", value))
                          if value is not None and (name == "seq" or name.endswith("_seq"))
                          else value for name, value in zip(names, row, strict=True))
                    for row in conn.execute(sa.select(table))]
            tables[table.name] = sorted(rows, key=repr)
    return tables


def stored_event_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(events.c.event_id)).scalars())


def reference(url: str, envelopes: Iterator[bytes] | Sequence[bytes]) -> Engine:
    """One in-process platform fed the envelopes once, in order."""
    platform = open_platform(Settings(db_url=url))
    try:
        for raw in envelopes:
            platform.ingestor.ingest(parse_envelope(raw))
        platform.project_pending()
    finally:
        platform.close()
    return create_engine(url)


def assert_same_projections(got: Engine, expected: Engine) -> None:
    mine, theirs = snapshot(got), snapshot(expected)
    assert any(theirs.values()), "the reference has no projections at all"
    for name in theirs:
        assert mine[name] == theirs[name], f"projection {name} differs"


# --- several server processes ------------------------------------------------------------

@pytest.fixture
def start_servers(tmp_path: Path) -> Iterator[Callable[..., list[PlatformProcess]]]:
    started: list[PlatformProcess] = []

    def start(count: int, db_url: str, extra_args: Sequence[str] = ()) -> list[PlatformProcess]:
        servers = [PlatformProcess(tmp_path / f"server{len(started) + n}", db_url=db_url,
                                   extra_args=extra_args) for n in range(count)]
        started.extend(servers)
        for server in servers:  # one at a time: on 2 cores, four at once starve each other
            server.start()
        return servers

    yield start
    for server in started:
        server.stop()


def _post(client: httpx.Client, raw: bytes) -> str:
    reply = client.post("/caliper/event", content=raw,
                        headers={"Content-Type": "application/json"})
    assert reply.status_code == 200, f"{reply.status_code}: {reply.text}"
    job_id: str = reply.json()["jobId"]
    return job_id


def test_four_server_processes_one_database(backend: Backend, start_servers: Any) -> None:
    url, reference_url = backend.new_db_url(), backend.new_db_url()
    assert url is not None and reference_url is not None
    stream = make_stream(seed=6, learners=16, runs=3, windows=5)
    servers = start_servers(4, url)
    token = servers[0].token()
    headers = {"Authorization": f"Bearer {token}"}
    local = threading.local()
    rng = random.Random(66)
    plan = [[(raw, (number + index) % 4,
              (number + index + rng.randint(1, 3)) % 4 if rng.random() < 0.2 else None)
             for index, raw in enumerate(envelopes)]
            for number, envelopes in enumerate(stream.clients)]
    resent = sum(1 for client in plan for _raw, _to, again in client if again is not None)

    def client_of(server: int) -> httpx.Client:
        clients: dict[int, httpx.Client] = local.__dict__.setdefault("clients", {})
        if server not in clients:
            clients[server] = httpx.Client(base_url=servers[server].base_url, headers=headers,
                                           timeout=60)
        return clients[server]

    with ThreadPoolExecutor(8) as resends:
        def run_client(steps: list[tuple[bytes, int, int | None]]) -> list[str]:
            jobs = []
            for raw, server, again in steps:
                # A resend races the original on another process, as a client that timed out.
                duplicate = resends.submit(_post, client_of(again), raw) if again is not None \
                    else None
                jobs.append(_post(client_of(server), raw))
                if duplicate is not None:
                    jobs.append(duplicate.result())
            return jobs

        with ThreadPoolExecutor(12) as senders:
            job_ids = [job for jobs in senders.map(run_client, plan) for job in jobs]

    with servers[0].http() as client:  # each job once every server's projector has passed it
        results = [r for job in job_ids for r in client.get(
            f"/jobs/{job}/status", params={"wait": 30}).json()["job"]["returnValue"]["results"]]
    engine = create_engine(url)
    expected = reference(reference_url, stream.interleaved())
    try:
        stored = stored_event_ids(engine)
        assert len(stored) == len(set(stored)) == len(stream.event_ids)  # none lost, none twice
        assert set(stored) == stream.event_ids
        assert len(job_ids) == sum(len(c) for c in stream.clients) + resent
        statuses = [r["status"] for r in results]
        assert set(statuses) <= ACCEPTED
        assert statuses.count("stored") == len(stream.event_ids) - stream.resent_windows
        assert statuses.count("duplicate_window") == stream.resent_windows
        assert statuses.count("duplicate") >= resent  # each resent envelope: all duplicates
        assert_same_projections(engine, expected)
    finally:
        engine.dispose()
        expected.dispose()


@pytest.mark.backends("sqlite", "pg")  # on SQLite the workers' appends take turns at its writer
def test_serve_workers_share_one_database(backend: Backend, start_servers: Any,
                                          tmp_path: Path) -> None:
    url, reference_url = backend.new_db_url(), backend.new_db_url()
    if url is None or reference_url is None:  # SQLite: two files
        (tmp_path / "served").mkdir()
        (tmp_path / "reference").mkdir()
        url, reference_url = sqlite_url(tmp_path / "served"), sqlite_url(tmp_path / "reference")
    stream = make_stream(seed=7, learners=6, runs=2, windows=3)
    (server,) = start_servers(1, url, extra_args=["--workers", "2"])
    token = server.token()

    def send(envelopes: list[bytes]) -> None:  # one learner's envelopes in order, on its own
        with httpx.Client(base_url=server.base_url, timeout=60,  # connection (either worker)
                          headers={"Authorization": f"Bearer {token}"}) as client:
            for raw in envelopes:
                _post(client, raw)

    with ThreadPoolExecutor(len(stream.clients)) as pool:
        list(pool.map(send, stream.clients))
    server.settle()
    engine = create_engine(url)
    expected = reference(reference_url, stream.interleaved())
    try:
        assert set(stored_event_ids(engine)) == stream.event_ids
        assert_same_projections(engine, expected)
    finally:
        engine.dispose()
        expected.dispose()


# --- one learner, one run, eight connections at once ----------------------------------------

def test_one_learner_hammered_from_eight_connections(backend: Backend) -> None:
    url, reference_url = backend.new_db_url(), backend.new_db_url()
    assert url is not None and reference_url is not None
    email = f"hammer-{uuid.uuid4().hex[:8]}@example.edu"
    actor = Learner(email, "hammer").actor(ROSTER)
    ref = activity("hammer", "Hammer")
    run_id = str(uuid.uuid4())
    threads, per_thread = 8, 16
    shares: list[list[bytes]] = []
    active_ms = inactive_ms = xp = 0
    for thread in range(threads):
        share = []
        for n in range(per_thread):
            k = thread * per_thread + n
            start = T0 + timedelta(minutes=k)  # one run's windows, none overlapping
            items = [time_spent_event(actor=actor, activity=ref, run_id=run_id, started_at=start,
                                      ended_at=start + timedelta(seconds=50),
                                      active_ms=40_000, inactive_ms=10_000,
                                      event_id=_event_id("hammer", run_id, k))]
            active_ms, inactive_ms = active_ms + 40_000, inactive_ms + 10_000
            if n % 4 == 0:  # completions of other runs: same learner, course and day
                # (each its own attempt: of two results for one attempt the later one wins,
                # and "later" is a matter of arrival when they race)
                items.append(completed_event(
                    actor=actor, activity=ref, run_id=str(uuid.uuid4()),
                    ended_at=start + timedelta(seconds=30), attempt=k + 1,
                    metrics=Metrics(xp_earned=3, total_questions=4, correct_questions=3),
                    event_id=_event_id("hammer", run_id, k, "done")))
                xp += 3
            share.append(orjson.dumps(envelope(SENSOR, items, T0)))
        shares.append(share)
    # Each thread also resends two envelopes of its neighbour's share, at the same time.
    sends = [share + shares[(t + 1) % threads][:2] for t, share in enumerate(shares)]
    platforms: list[Platform] = [open_platform(Settings(db_url=url)) for _ in range(threads)]
    barrier = threading.Barrier(threads)

    def hammer(number: int) -> None:
        barrier.wait()
        for raw in sends[number]:
            platforms[number].ingestor.ingest(parse_envelope(raw))

    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(hammer, range(threads)))
        platforms[0].project_pending()
    finally:
        for platform in platforms:
            platform.close()
    engine = create_engine(url)
    expected = reference(reference_url, [raw for share in shares for raw in share])
    try:
        with engine.connect() as conn:
            run = conn.execute(sa.text("SELECT active_ms, inactive_ms, heartbeats FROM runs "
                                       "WHERE run_id = :r"), {"r": run_id}).one()
            day = conn.execute(sa.text("SELECT sum(active_ms), sum(xp_milli), sum(completions) "
                                       "FROM learner_days WHERE learner_email = :e"),
                               {"e": email}).one()
        assert tuple(run) == (active_ms, inactive_ms, threads * per_thread)
        assert tuple(day) == (active_ms, xp * 1000, threads * per_thread // 4)
        assert_same_projections(engine, expected)
    finally:
        engine.dispose()
        expected.dispose()


# --- a deadlock between two ingests is retried, not returned as an error --------------------

def _wait_until_blocked(engine: Engine, application: str) -> None:
    """Poll (bounded) until the backend named `application` waits on a lock."""
    deadline = time.monotonic() + 30
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :a "
                    "AND wait_event_type = 'Lock'")
    with engine.connect() as conn:
        while conn.execute(query, {"a": application}).scalar_one() == 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"{application} never waited on a lock")
            time.sleep(0.02)  # polling a real server's state


def _event_row(item: dict[str, Any]) -> dict[str, Any]:
    """The events row another writer stores for `item` (same id and body hash)."""
    return {"event_id": item["id"], "body_hash": content_digest(item), "kind": "event",
            "type": item["type"], "action": item["action"], "profile": item["profile"],
            "actor_id": item["actor"]["id"], "learner_email": item["actor"]["email"],
            "run_id": item["extensions"]["runId"], "event_time": T0, "sensor": SENSOR,
            "received_at": T0, "job_id": "other-writer", "body": orjson.dumps(item).decode()}


def test_an_ingest_that_loses_a_deadlock_is_retried(backend: Backend) -> None:
    """Two writers take the same event ids in opposite orders: PostgreSQL aborts one of them.

    The ingest is made the one aborted (sqlstate 40P01); the Ingestor retries the whole
    transaction and reports the events as duplicates, where it used to fail with a 500.
    """
    url = backend.new_db_url()
    assert url is not None
    email = f"deadlock-{uuid.uuid4().hex[:8]}@example.edu"
    actor = Learner(email, "deadlock").actor(ROSTER)
    run_id = str(uuid.uuid4())
    first, second = (time_spent_event(
        actor=actor, activity=activity(), run_id=run_id, started_at=T0 + timedelta(minutes=n),
        ended_at=T0 + timedelta(minutes=n, seconds=30), active_ms=30_000, inactive_ms=0)
        for n in range(2))
    raw = orjson.dumps(envelope(SENSOR, [first, second], T0))
    # Each backend checks for a deadlock once, deadlock_timeout after it starts waiting: the
    # ingest's check comes after the cycle has formed, long before the other's.
    platform = open_platform(Settings(
        db_url=url + "&application_name=ingest&options=-c%20deadlock_timeout%3D2s"))
    other = create_engine(url + "&application_name=other&options=-c%20deadlock_timeout%3D60s")
    try:
        with other.connect() as conn, ThreadPoolExecutor(1) as pool:
            # The other writer holds the second event, unsent to the ingest ...
            rows = [_event_row(item) for item in (first, second)]
            conn.execute(events.insert(), [rows[1]])
            ingesting = pool.submit(platform.ingestor.ingest, parse_envelope(raw))
            _wait_until_blocked(other, "ingest")  # ... the ingest holds the first, waits ...
            conn.execute(events.insert(), [rows[0]])  # ... and the other waits on it: a cycle
            conn.commit()
            result = ingesting.result(timeout=60)
        assert [r.status for r in result.results] == ["duplicate", "duplicate"]
    finally:
        platform.close()
        other.dispose()
