"""The stores bench/dashboard.py times, filled the way a platform is: events appended by the
ingestor in envelopes of 100, then projected by the projector, so every row (flags included) is
what the rules make of those events and `rebuild` would give the same store back.

Building the ~1M-event store takes a long time (about 70 µs an event to append and 90 µs to
project on a quiet machine; 39 minutes on this shared one), so a built store is kept in a cache
folder (`<temp dir>/timeledger-bench-cache/dashboard-<name>-<digest>`) and copied for each run.
The digest is over the store's parameters (days, runs, the heavy learner's runs, the seed, the
UTC date the store's days end on) and the code that decides which rows it holds: this file, the
wire format (`caliper/`, `config.py`), the append (`server/ingestion.py`,
`server/group_commit.py`) and the projections (`server/pipeline/`). A copy is brought to the
schema's head on opening (`store.migrate.upgrade`, as `timeledger db upgrade` would), so a new
migration (an index, say) does not mean a rebuild; a change to how rows are laid out that comes
without a migration is not noticed: use `--no-cache` then. Entries of other digests are deleted
when a new one is stored.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    activity_url,
    completed_event,
    envelope,
    time_spent_event,
)
from timeledger.caliper.metrics import Metrics
from timeledger.caliper.screen import read_envelope
from timeledger.config import TimebackConfig
from timeledger.server.pipeline.flags import LEARNING_KINDS
from timeledger.server.pipeline.registry import register_courses
from timeledger.server.platform import Platform, open_platform
from timeledger.server.settings import Settings
from timeledger.server.store import projection_tables as pt
from timeledger.server.store.database import create_engine, sqlite_url
from timeledger.server.store.migrate import upgrade

COURSE = "Math G5"  # what the config below names its one course
LEARNERS = 500
HEAVY = "learner000@bench.example"
ACTIVITIES = 10
SENSOR = "https://bench.example"
EVENTS_PER_ENVELOPE = 100
ENVELOPES_PER_APPEND = 10  # envelopes handed to the ingestor at once (it commits them together)
PROJECT_EVERY = 50_000  # events appended between projector passes (bounds the unprojected log)
CONFIG = {"name": "Bench", "sensor": SENSOR, "courses": [{
    "subject": "Math", "grade": 5,
    "metadata": {"goals": {"dailyActiveMinutes": 20, "dailyXp": 20},
                 "metrics": {"totalLessons": ACTIVITIES}}}]}
CACHE = Path(tempfile.gettempdir()) / "timeledger-bench-cache"
SOURCE = Path(__file__).resolve().parents[1] / "src" / "timeledger"
# the code that decides which rows a store holds (the digest of a cached store)
WRITE_PATH = ("caliper", "config.py", "server/ingestion.py", "server/group_commit.py",
              "server/pipeline")


def activity_of(number: int) -> str:
    return activity_url(SENSOR, f"lesson-{number}", subject="Math", grade=5)


HEAVY_ACTIVITY = activity_of(0)


@dataclass(frozen=True, slots=True)
class StorePlan:
    """One store: every learner's lessons on the last `school_days` school days up to `today`,
    and `heavy_runs` more of HEAVY's spread over the 365 school days before it."""

    name: str
    school_days: int
    runs_per_day: int
    heavy_runs: int
    today: date
    seed: int = 1

    def digest(self) -> str:
        code = hashlib.sha256(Path(__file__).read_bytes())
        for part in WRITE_PATH:
            top = SOURCE / part
            for path in sorted([top] if top.is_file() else top.rglob("*.py")):
                code.update(str(path.relative_to(SOURCE)).encode() + b"\0" + path.read_bytes())
        code.update(repr((self.name, self.school_days, self.runs_per_day, self.heavy_runs,
                          self.today.isoformat(), self.seed)).encode())
        return code.hexdigest()[:20]


def school_days_back(today: date, count: int) -> list[date]:
    """The last `count` school days up to `today`, oldest first."""
    days: list[date] = []
    day = today
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def emails() -> list[str]:
    return [f"learner{n:03d}@bench.example" for n in range(LEARNERS)]


class LessonEvents:
    """The events of runs: a time report per run and a completion, and now and then what a
    learning concern or an integration fault looks like on the wire."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.turns: dict[str, int] = {}
        self.attempts: dict[tuple[str, int], int] = {}
        self.activities = [ActivityRef(
            url=activity_of(n), name=f"Lesson {n}", subject="Math", app_name="Bench",
            course_id=COURSE, course_name=COURSE) for n in range(ACTIVITIES)]
        self.actors: dict[str, dict[str, Any]] = {}

    def _actor(self, email: str) -> dict[str, Any]:
        actor = self.actors.get(email)
        if actor is None:
            actor = Learner(email=email, name=email.split("@")[0].title()).actor(SENSOR)
            self.actors[email] = actor
        return actor

    def run(self, email: str, start: datetime, minutes: int, fault_rate: float,
            learning_share: float, activity_no: int | None = None) -> list[dict[str, Any]]:
        """One run. With `fault_rate`, a flag by the rules: `learning_share` of them a
        completion earning XP under 80 % correct (low_accuracy), the rest time reported on the
        run after its completion (heartbeats_after_completion)."""
        rng = self.rng
        if activity_no is None:  # in turn: ten runs have touched every activity
            activity_no = self.turns.get(email, 0) % ACTIVITIES
            self.turns[email] = self.turns.get(email, 0) + 1
        attempt = self.attempts.get((email, activity_no), 0) + 1
        self.attempts[(email, activity_no)] = attempt
        run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        actor, activity = self._actor(email), self.activities[activity_no]
        end = start + timedelta(minutes=minutes)
        correct = rng.randint(6, 10)
        xp = float(minutes - 1) if correct >= 8 else 0.0
        faulty = rng.random() < fault_rate
        learning = faulty and rng.random() < learning_share
        if learning:
            correct, xp = 7, float(minutes - 1)
        out = [time_spent_event(actor=actor, activity=activity, run_id=run_id, started_at=start,
                                ended_at=end, active_ms=minutes * 60_000, inactive_ms=0),
               completed_event(actor=actor, activity=activity, run_id=run_id, ended_at=end,
                               metrics=Metrics(xp_earned=xp, total_questions=10,
                                               correct_questions=correct, mastered_units=1),
                               attempt=attempt)]
        if faulty and not learning:
            late = end + timedelta(minutes=1)
            out.append(time_spent_event(actor=actor, activity=activity, run_id=run_id,
                                        started_at=late, ended_at=late + timedelta(seconds=30),
                                        active_ms=30_000, inactive_ms=0))
        return out


def _lessons(day: date, count: int, rng: random.Random) -> Iterator[datetime]:
    at = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    for _ in range(count):
        at += timedelta(minutes=rng.randint(20, 50))
        yield at


def plan_events(plan: StorePlan, now: datetime) -> Iterator[dict[str, Any]]:
    """Every event of the store, learner by learner (each learner's days in turn, as an import
    of a school's history sends them; the projector's cost is per learner in a batch, so a
    day-by-day order would make building the store several times slower, and the rows it
    projects are the same), then HEAVY's extra history. A run's length is scaled so that a
    learner's day comes to 18-42 minutes whatever `runs_per_day` is, against a daily goal of 20
    minutes and 20 XP: some days are met, some missed, some learners fall behind for days
    running, in both stores alike."""
    lessons = LessonEvents(plan.seed)
    rng = lessons.rng
    days = school_days_back(plan.today, plan.school_days)
    for email in emails():
        for day in days:
            for start in _lessons(day, plan.runs_per_day, rng):
                minutes = rng.randint(6, 14) * 3 // plan.runs_per_day
                if start + timedelta(minutes=minutes) < now:
                    yield from lessons.run(email, start, minutes, fault_rate=0.05,
                                           learning_share=0.2)
    heavy_days = school_days_back(plan.today - timedelta(days=1), 365)
    for index in range(plan.heavy_runs):
        day = heavy_days[index % len(heavy_days)]
        start = datetime(day.year, day.month, day.day, 6, tzinfo=UTC) + timedelta(
            minutes=(index // len(heavy_days)) * 3 % 900)
        # every third run is of lesson 0, so its runs page is full (200) in both stores
        yield from lessons.run(HEAVY, start, rng.randint(6, 14), fault_rate=0.15,
                               learning_share=0.6, activity_no=0 if index % 3 == 0 else None)


def _envelopes(events: Iterator[dict[str, Any]], now: datetime) -> Iterator[bytes]:
    batch: list[dict[str, Any]] = []
    for event in events:
        batch.append(event)
        if len(batch) == EVENTS_PER_ENVELOPE:
            yield orjson.dumps(envelope(SENSOR, batch, now))
            batch = []
    if batch:
        yield orjson.dumps(envelope(SENSOR, batch, now))


def _open(folder: Path, upgrade_schema: bool = False) -> Platform:
    folder.mkdir(parents=True, exist_ok=True)
    if upgrade_schema:
        engine = create_engine(sqlite_url(folder))
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    return open_platform(Settings(db_url=sqlite_url(folder), data_dir=folder,
                                  dashboard_open=True))


def fill(platform: Platform, plan: StorePlan, now: datetime,
         progress: Callable[[str], None]) -> int:
    """Append the plan's events through the ingestor and project them; returns how many."""
    with platform.engine.begin() as conn:
        register_courses(conn, TimebackConfig.load(CONFIG), "bench", now)
    appended = since_projected = 0
    pending: list[bytes] = []

    def append() -> int:
        checked = [read_envelope(raw) for raw in pending]
        for job in platform.ingestor.ingest_many(checked, client_id="bench"):
            if job.count("stored") != len(job.results):
                raise SystemExit(f"bench events not stored: {job.results[:3]}")
        pending.clear()
        return sum(len(e.data) for e in checked)

    for raw in _envelopes(plan_events(plan, now), now):
        pending.append(raw)
        if len(pending) == ENVELOPES_PER_APPEND:
            added = append()
            appended += added
            since_projected += added
            if since_projected >= PROJECT_EVERY:
                platform.project_pending()
                since_projected = 0
                progress(f"{plan.name}: {appended:,} events appended and projected")
    appended += append()
    platform.project_pending()
    return appended


def _check(platform: Platform, plan: StorePlan) -> str:
    """What the rules flagged; HEAVY must have at least 50 learning flags (a full list on
    their page) and the integration page some faults."""
    with platform.engine.connect() as conn:
        kinds: dict[str, int] = dict(conn.execute(sa.select(pt.flags.c.kind, sa.func.count())
                                  .group_by(pt.flags.c.kind)).all())
        heavy_learning = conn.execute(sa.select(sa.func.count()).select_from(pt.flags).where(
            pt.flags.c.learner_email == HEAVY, pt.flags.c.kind.in_(LEARNING_KINDS))).scalar_one()
    if heavy_learning < 50 or len(kinds) < 2:
        raise SystemExit(f"{plan.name}: the rules flagged too little to fill the pages: "
                         f"{kinds}, {heavy_learning} learning flags of {HEAVY}")
    return ", ".join(f"{kind} {count:,}" for kind, count in sorted(kinds.items()))


def _built(plan: StorePlan, now: datetime, progress: Callable[[str], None]) -> Path:
    """The cached store of this plan, built now if there is none."""
    digest = plan.digest()
    entry = CACHE / f"dashboard-{plan.name}-{digest}"
    if (entry / "done").exists():
        progress(f"{plan.name}: cached store {entry}")
        return entry
    building = CACHE / f"building-{plan.name}-{digest}-{uuid.uuid4().hex[:8]}"
    building.mkdir(parents=True)
    platform = _open(building)
    try:
        count = fill(platform, plan, now, progress)
        progress(f"{plan.name}: {count:,} events; flags: {_check(platform, plan)}")
    finally:
        platform.close()
    (building / "done").write_text(f"{count}\n")
    for stale in CACHE.glob(f"dashboard-{plan.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    building.rename(entry)
    return entry


def open_store(plan: StorePlan, folder: Path, now: datetime, use_cache: bool = True,
               progress: Callable[[str], None] = lambda text: print(text, file=sys.stderr,
                                                                   flush=True),
               ) -> tuple[Platform, int]:
    """A platform on a copy of the plan's store in `folder`, and how many events it holds."""
    if not use_cache:
        platform = _open(folder)
        count = fill(platform, plan, now, progress)
        progress(f"{plan.name}: {count:,} events; flags: {_check(platform, plan)}")
        return platform, count
    source = _built(plan, now, progress)
    shutil.copytree(source, folder)
    return _open(folder, upgrade_schema=True), int((folder / "done").read_text())
