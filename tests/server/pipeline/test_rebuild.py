"""Rebuild replays the events into exactly the projections ingest built, whatever the batches."""

from __future__ import annotations

import random
import tempfile
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.ledger_world import Ledger, activity, at, completion, heartbeat, resend
from tests.support.platform import StoreLocation, run_cli
from tests.support.postgres import Backend
from timeledger.config import TimebackConfig
from timeledger.server.ingestion import JobResult
from timeledger.server.pipeline import PipelineSettings
from timeledger.server.pipeline.rebuild import rebuild
from timeledger.server.pipeline.registry import register_courses
from timeledger.server.store.projection_tables import PROJECTION_TABLES, course_registry, flags

EMAILS = ("ann@example.edu", "Bo@Example.edu", "cy@example.edu")
ACTIVITIES = (activity("add", "math-g3"), activity("sub", "math-g3"), activity("read", "ela-g2"))
# A week around the 2025 spring DST change, starting near local midnight in New York.
START = at("2025-03-08T04:30:00")


def snapshot(ledger: Ledger) -> dict[str, list[dict[str, Any]]]:
    return {table.name: ledger.rows(table) for table in PROJECTION_TABLES}


class Stream:
    """A random but valid history: several learners and runs, resends, conflicts, corrections."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.sent: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []
        for index in range(rng.randint(3, 8)):
            email = rng.choice(EMAILS)
            self.runs.append({
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "email": email if rng.random() < 0.7 else email.upper(),
                "actor": f"https://roster.example/users/{email.split('@')[0]}-{rng.randint(1, 2)}",
                "act": rng.choice(ACTIVITIES),
                "at": START + timedelta(hours=rng.randint(0, 20) * 7 + index),
            })

    def _id(self, event: dict[str, Any]) -> dict[str, Any]:
        event["id"] = f"urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"
        return event

    def _seconds(self) -> float:
        return round(self.rng.uniform(0, 20), self.rng.choice((0, 1, 3)))

    def next_events(self) -> list[dict[str, Any]]:
        """The next event, or two for record(time=...): the completion, then its time report."""
        rng = self.rng
        roll = rng.random()
        if self.sent and roll < 0.06:
            return [rng.choice(self.sent)]  # the same event again: a no-op
        if self.sent and roll < 0.14:
            return [self._id(resend(rng.choice(self.sent)))]  # a resend under a new id
        if self.sent and roll < 0.16:  # a different body under an existing id: a conflict
            return [{**rng.choice(self.sent), "eventTime": "2024-01-01T00:00:00.000Z"}]
        run = rng.choice(self.runs)
        run_id = run["id"] if rng.random() > 0.05 else None
        kwargs = {"act": run["act"], "actor_id": run["actor"]}
        out: list[dict[str, Any]] = []
        if roll < 0.8:
            active, inactive = self._seconds(), self._seconds()
            start = run["at"]
            jump = rng.random()
            if jump < 0.08:
                start -= timedelta(seconds=rng.randint(1, 40))  # overlaps earlier windows
            elif jump < 0.15:
                start += timedelta(hours=rng.randint(1, 30))  # a new session, maybe a new day
            end = start + timedelta(seconds=active + inactive + rng.choice((0, 0, 5)))
            run["at"] = max(run["at"], end)
            out.append(heartbeat(run["email"], run_id, start, active, inactive, end=end,
                                 window=rng.random() < 0.75, **kwargs))
        else:
            total = rng.randint(0, 12)
            asked = rng.random() < 0.7
            when = run["at"] if rng.random() < 0.7 else run["at"] + timedelta(minutes=3)
            out.append(completion(
                run["email"], run_id, when, rng.choice((-5, 0, 1, 2.5, 7, 12, 30, 150)),
                total=total if asked else None,
                correct=rng.randint(0, total) if asked else None,
                mastered=rng.choice((None, 0, 1, 2, 3, 4)),
                pct=rng.choice((None, 10, 55.5, 100)), attempt=rng.choice((None, 1, 1, 2, 3)),
                **kwargs))
            if rng.random() < 0.3:  # record(time=...): a time report at the completion's time
                out.append(heartbeat(run["email"], run_id, when, self._seconds() * 20,
                                     window=False, end=when, **kwargs))
        for event in out:
            self.sent.append(self._id(event))
        return out


def ingest_stream(ledger: Ledger, rng: random.Random, size: int) -> None:
    stream = Stream(rng)
    events: list[dict[str, Any]] = []
    while len(events) < size:
        events += stream.next_events()
    cursor = 0
    while cursor < len(events):
        size_of = rng.choice((1, 2, 5, 20, 60))
        ledger.send(*events[cursor:cursor + size_of])
        cursor += size_of


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1),
       timezone=st.sampled_from(("America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")),
       batch_size=st.sampled_from((3, 64, 500)))
def test_rebuild_equals_the_incremental_build(backend: Backend, seed: int, timezone: str,
                                              batch_size: int) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger(Path(folder), timezone=timezone, db_url=backend.new_db_url())
        try:
            ingest_stream(ledger, rng, 300)
            built = snapshot(ledger)
            assert built["runs"] and built["learner_days"] and built["completions"]
            report = rebuild(ledger.platform.engine, PipelineSettings(timezone), batch_size)
            assert report.unreadable == ()
            assert snapshot(ledger) == built
        finally:
            ledger.close()


def test_the_stream_exercises_what_rebuild_must_reproduce(backend: Backend,
                                                          tmp_path: Path) -> None:
    """One fixed stream, to be sure the generator reaches resends, conflicts and most flags."""
    ledger = Ledger(tmp_path, timezone="America/New_York", db_url=backend.new_db_url())
    statuses: list[str] = []
    original = ledger.send

    def counting_send(*events: Mapping[str, Any]) -> JobResult:
        job = original(*events)
        statuses.extend(r.status for r in job.results)
        return job

    ledger.send = counting_send  # type: ignore[method-assign]
    ingest_stream(ledger, random.Random(7), 1500)
    for status in ("stored", "duplicate", "conflict", "duplicate_window", "duplicate_completion"):
        assert status in statuses
    kinds = {row["kind"] for row in ledger.rows(flags)}
    assert {"low_accuracy", "second_completion", "overlapping_windows",
            "heartbeats_after_completion", "double_time"} <= kinds
    dates = {row["local_date"] for row in ledger.rows(PROJECTION_TABLES[6])}
    assert len(dates) >= 3
    ledger.close()


def test_the_rebuild_command_keeps_events_and_the_course_registry(backend: Backend,
                                                                  tmp_path: Path) -> None:
    store = StoreLocation(tmp_path, backend.new_db_url())
    ledger = Ledger(tmp_path, timezone="America/New_York", db_url=store.db_url)
    t0 = at("2025-01-14T04:50:00")
    run = str(uuid.uuid4())
    ledger.send(heartbeat("ann@example.edu", run, t0, 600, 120),
                completion("ann@example.edu", run, t0 + timedelta(minutes=12), 11, total=4,
                           correct=2))
    config = TimebackConfig.load({"name": "Example App", "courses": [
        {"subject": "Math", "grade": 3, "ids": {"production": "math-g3"}}]})
    with ledger.platform.engine.begin() as conn:
        register_courses(conn, config, "inline", datetime.now().astimezone())
    built = snapshot(ledger)
    registry = ledger.rows(course_registry)
    ledger.close()
    done = run_cli("rebuild", *store.args(), "--timezone", "America/New_York", "--quiet")
    assert "from 2 Timeback event(s)" in done.stdout
    reopened = Ledger(tmp_path, timezone="America/New_York", db_url=store.db_url)
    assert snapshot(reopened) == built
    assert reopened.rows(course_registry) == registry
    reopened.close()
