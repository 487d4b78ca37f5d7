"""The layout past one machine: two API processes and two projectors on one PostgreSQL database.

A mixed stream (the same envelopes sent to both APIs at once, conflicts, windows and completions
resent under new ids, several learners and runs) goes to both APIs concurrently, a first wave
before the projectors start and a second while they work through it; every job then says exactly
what the stream implies, the totals are exact, and the projections equal a rebuild.
"""

from __future__ import annotations

import random
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from tests.server.pipeline.test_rebuild import ACTIVITIES
from tests.support.ledger_world import SENSOR, at, completion, heartbeat, resend
from tests.support.platform import PlatformProcess, run_cli
from tests.support.postgres import Backend
from timeledger.caliper.builders import envelope
from timeledger.server.store.database import create_engine
from timeledger.server.store.partitions import learner_partition, partition_count
from timeledger.server.store.projection_tables import PROJECTION_TABLES, runs

pytestmark = pytest.mark.backends("pg")  # several writers and projectors need PostgreSQL

START = at("2025-03-03T14:00:00")
WINDOWS_PER_RUN = 12
ACTIVE_S, INACTIVE_S = 12, 3
STOP_S = 30


@dataclass(frozen=True)
class Run:
    email: str
    run_id: str
    xp: int


@dataclass
class Sent:
    """One POST: which API, which events, and the job id it was answered with."""

    api: int
    events: list[dict[str, Any]]
    job_id: str = ""


def _runs() -> list[Run]:
    """Seven learners, two of them with two runs."""
    emails = [f"scale{i}@example.edu" for i in range(7)]
    return [Run(email, str(uuid.uuid4()), xp=index + 1)
            for index, email in enumerate(emails + emails[:2])]


def _originals(plan: list[Run]) -> list[dict[str, Any]]:
    """Each run's windows (15 s apart, none overlapping), then its completion after the last."""
    events: list[dict[str, Any]] = []
    for index, run in enumerate(plan):
        act = ACTIVITIES[index % len(ACTIVITIES)]
        for w in range(WINDOWS_PER_RUN):
            began = START + timedelta(seconds=15 * w)
            events.append(heartbeat(run.email, run.run_id, began, ACTIVE_S, INACTIVE_S, act=act))
        done = START + timedelta(seconds=15 * WINDOWS_PER_RUN + 5)
        events.append(completion(run.email, run.run_id, done, run.xp, total=4, correct=3,
                                 act=act))
    return events


def _envelopes(events: list[dict[str, Any]], rng: random.Random) -> list[list[dict[str, Any]]]:
    shuffled = events[:]
    rng.shuffle(shuffled)
    out: list[list[dict[str, Any]]] = []
    while shuffled:
        size = rng.choice((1, 3, 7, 15))
        out.append(shuffled[:size])
        shuffled = shuffled[size:]
    return out


def _sends(envelopes: list[list[dict[str, Any]]], rng: random.Random) -> list[Sent]:
    """Each envelope to one API, or (every third) to both at once: a resend of the same ids."""
    sends: list[Sent] = []
    for index, events in enumerate(envelopes):
        if index % 3 == 0:
            sends += [Sent(0, events), Sent(1, events)]
        else:
            sends.append(Sent(rng.randrange(2), events))
    return sends


def _post_all(apis: list[PlatformProcess], token: str, sends: list[Sent]) -> None:
    """Post concurrently (8 at a time, spread over both APIs); fill in each job id."""
    clients = [httpx.Client(base_url=api.base_url, timeout=60,
                            headers={"Authorization": f"Bearer {token}",
                                     "Content-Type": "application/json"}) for api in apis]

    def post(sent: Sent) -> None:
        body = orjson.dumps(envelope(SENSOR, sent.events, START))
        reply = clients[sent.api].post("/caliper/event", content=body)
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "success"
        sent.job_id = reply.json()["jobId"]

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(post, sends))
    finally:
        for client in clients:
            client.close()


def _results(api: PlatformProcess, token: str, sends: list[Sent]) -> list[list[dict[str, Any]]]:
    """Each job's per-event results, once completed (long poll)."""
    out = []
    with httpx.Client(base_url=api.base_url, timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        for sent in sends:
            job = client.get(f"/jobs/{sent.job_id}/status", params={"wait": 30}).json()["job"]
            assert job["state"] == "completed", job
            results: list[dict[str, Any]] = job["returnValue"]["results"]
            assert [r["externalId"] for r in results] == [e["id"] for e in sent.events]
            out.append(results)
    return out


def _snapshot(engine: sa.Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {table.name: [dict(row._mapping) for row in conn.execute(
            sa.select(table).order_by(*table.primary_key.columns))]
            for table in PROJECTION_TABLES}


@contextmanager
def _projectors(url: str, count: int, folder: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    log = (folder / "projectors.log").open("ab")
    children = [subprocess.Popen([sys.executable, "-m", "timeledger", "project", "--db", url],
                                 stdout=log, stderr=subprocess.STDOUT) for _ in range(count)]
    try:
        yield children
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(STOP_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        log.close()


def test_two_apis_and_two_projectors_on_one_database(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_db_url()
    assert url is not None
    rng = random.Random(14)
    plan = _runs()
    count = partition_count("postgresql")
    assert len({learner_partition(r.email, count) for r in plan}) >= 4, "learners share partitions"
    originals = _originals(plan)
    windows = [e for e in originals if e["type"] == "TimeSpentEvent"]
    finals = [e for e in originals if e["type"] != "TimeSpentEvent"]
    # Racing copies: windows and a completion resent under new ids beside their originals.
    racing_sources = [*rng.sample(windows, 10), finals[0]]
    racing = [resend(e) for e in racing_sources]
    first_wave = _sends(_envelopes(originals + racing, rng), rng)
    # After the first wave is acknowledged: copies of stored events, same-id resends of stored
    # events, and different bodies under stored ids (conflicts), again to both APIs.
    later_copies = [resend(e) for e in rng.sample(windows, 8)] + [resend(e) for e in finals[1:4]]
    conflicting = [{**e, "eventTime": "2024-01-01T00:00:00.000Z"} for e in rng.sample(windows, 5)]
    conflicting.append({**finals[4], "eventTime": "2024-01-02T00:00:00.000Z"})
    repeated = rng.sample(originals, 9)
    second_wave = _sends(_envelopes(later_copies + conflicting + repeated, rng), rng)

    apis = [PlatformProcess(tmp_path / f"api{n}", db_url=url, extra_args=["--projectors", "0"])
            for n in range(2)]
    engine = create_engine(url)
    try:
        for api in apis:
            api.start()
        token = apis[0].token()  # tokens live in the database: good at either API
        # The first wave waits as a backlog: both projectors then start on it at once (the same
        # partitions first), while the second wave arrives.
        _post_all(apis, token, first_wave)
        with _projectors(url, 2, tmp_path) as children:
            _post_all(apis, token, second_wave)
            results = _results(apis[1], token, first_wave + second_wave)
            through = apis[0].get("/api/v1/projection")["projected_through"]
            assert through["caught_up"] is True
            assert [child.poll() for child in children] == [None, None], "a projector died"
        projected = _snapshot(engine)
        for api in apis:
            api.stop()

        # Per event id, over every send of it: the first is decided by what it is, every
        # other send of the same body is a duplicate, a different body a conflict.
        statuses: dict[str, Counter[str]] = {}
        for sent, job_results in zip(first_wave + second_wave, results, strict=True):
            for event, result in zip(sent.events, job_results, strict=True):
                statuses.setdefault(event["id"], Counter())[result["status"]] += 1
        sends_of: Counter[str] = Counter(e["id"] for s in first_wave + second_wave
                                         for e in s.events)
        conflict_sends = Counter(e["id"] for s in second_wave for e in s.events
                                 if any(e is c for c in conflicting))
        racing_pairs = {c["id"]: o["id"] for c, o in zip(racing, racing_sources, strict=True)}
        expected_first: dict[str, str] = {e["id"]: "stored" for e in originals}
        for copy in later_copies:
            kind = "duplicate_window" if copy["type"] == "TimeSpentEvent" else \
                "duplicate_completion"
            expected_first[copy["id"]] = kind
        for event_id, counted in statuses.items():
            others = sends_of[event_id] - 1 - conflict_sends[event_id]
            if event_id in racing_pairs or event_id in racing_pairs.values():
                continue  # checked as pairs below: either copy may be the one counted
            assert counted == Counter({expected_first[event_id]: 1, "duplicate": others,
                                       "conflict": conflict_sends[event_id]}) - Counter(), (
                event_id, counted)
        for copy_id, original_id in racing_pairs.items():
            kind = "duplicate_window" if copy_id != racing[-1]["id"] else "duplicate_completion"
            firsts: Counter[str] = Counter()
            for event_id in (copy_id, original_id):
                counted = statuses[event_id]
                assert counted["duplicate"] == sends_of[event_id] - 1 - conflict_sends[event_id]
                assert counted["conflict"] == conflict_sends[event_id]
                firsts.update({status: n for status, n in counted.items()
                               if status not in ("duplicate", "conflict")})
            assert firsts == Counter({"stored": 1, kind: 1}), (copy_id, firsts)
        totals = Counter(r["status"] for job in results for r in job)
        assert totals == Counter({
            "stored": len(originals),
            "duplicate_window": 10 + 8, "duplicate_completion": 1 + 3,
            "conflict": sum(conflict_sends.values()),
            "duplicate": sum(sends_of.values()) - len(sends_of) - sum(conflict_sends.values()),
        })

        # Exact totals per run: every window once, one completion, its XP once.
        assert {row["run_id"]: (row["learner_email"], row["active_ms"], row["inactive_ms"],
                                row["heartbeats"], row["completions"], row["xp_milli"])
                for row in projected["runs"]} == {
            run.run_id: (run.email, WINDOWS_PER_RUN * ACTIVE_S * 1000,
                         WINDOWS_PER_RUN * INACTIVE_S * 1000, WINDOWS_PER_RUN, 1, run.xp * 1000)
            for run in plan}
        assert len(projected[runs.name]) == len(plan)

        done = run_cli("rebuild", "--db", url, "--timezone", "UTC", "--quiet")
        assert f"from {len(originals) + len(racing) + len(later_copies)} Timeback event(s)" \
            in done.stdout, done.stdout
        assert _snapshot(engine) == projected
    finally:
        for api in apis:
            api.stop()
        engine.dispose()
