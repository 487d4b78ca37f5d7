"""`serve --demo`: fill an empty platform with a seeded, realistic school week of activity."""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import sqlalchemy as sa

from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    activity_url,
    completed_event,
    envelope,
    stable_event_id,
    time_spent_event,
)
from timeledger.caliper.envelope import parse_envelope
from timeledger.caliper.metrics import Metrics
from timeledger.caliper.times import format_utc
from timeledger.config import TimebackConfig
from timeledger.server.demo_roster import LEARNER_COUNT, demo_learner, load_demo_roster
from timeledger.server.pipeline.registry import register_courses
from timeledger.server.platform import Platform
from timeledger.server.store.schema import events

SEED = 20250915
SCHOOL_DAYS = 8  # today and the week before it
HEARTBEAT = timedelta(seconds=60)  # the demo apps configure a 60 s heartbeat (default 15 s)
EVENTS_PER_ENVELOPE = 500
ROSTER_BASE = "https://sis.demo-school.example"

# One app config per app, in the format schools already write (timeback.config.json).
APP_CONFIGS: tuple[dict[str, Any], ...] = (
    {"name": "MathQuest", "sensor": "https://mathquest.demo-school.example", "courses": [
        {"subject": "Math", "grade": 3, "metadata": {
            "goals": {"dailyXp": 25, "dailyActiveMinutes": 25, "dailyLessons": 2,
                      "dailyAccuracy": 80},
            "metrics": {"totalLessons": 40, "totalXp": 1000}}},
        {"subject": "Math", "grade": 4, "metadata": {
            "goals": {"dailyXp": 30, "dailyActiveMinutes": 30, "dailyLessons": 2,
                      "dailyAccuracy": 80},
            "metrics": {"totalLessons": 45, "totalXp": 1200}}},
    ]},
    {"name": "ReadWell", "sensor": "https://readwell.demo-school.example", "courses": [
        {"subject": "Reading", "grade": 3, "metadata": {
            "goals": {"dailyXp": 20, "dailyActiveMinutes": 20, "dailyLessons": 1,
                      "dailyAccuracy": 75},
            "metrics": {"totalLessons": 30}}},
    ]},
    {"name": "Science Lab", "sensor": "https://sciencelab.demo-school.example", "courses": [
        {"subject": "Science", "grade": 4, "metadata": {
            "goals": {"dailyXp": 15, "dailyActiveMinutes": 15, "dailyMasteredUnits": 1},
            "metrics": {"totalLessons": 24}}},
    ]},
    {"name": "Spanish Steps", "sensor": "https://spanish.demo-school.example", "courses": [
        {"subject": "Language", "courseCode": "SPAN-101", "metadata": {
            "goals": {"dailyXp": 15, "dailyActiveMinutes": 15, "dailyLessons": 1},
            "metrics": {"totalLessons": 20}}},
    ]},
)

LESSONS: dict[str, tuple[str, ...]] = {
    "Math G3": ("Fractions on a number line", "Equivalent fractions", "Multiplication facts 6-9",
                "Area of rectangles", "Telling time to the minute", "Rounding to 100"),
    "Math G4": ("Long division", "Comparing decimals", "Factors and multiples", "Angles",
                "Multi-digit multiplication", "Line plots"),
    "Reading G3": ("The Lighthouse Keeper, ch. 3", "Main idea practice", "Context clues",
                   "Poetry: rhythm and rhyme", "Fact or opinion"),
    "Science G4": ("States of matter", "Food chains", "Simple circuits", "The water cycle"),
    "SPAN-101": ("Greetings", "Numbers 1-20", "Colours", "My family", "At school"),
}
# Lessons done over several sittings (resumable): the app's backend records the completion.
RESUMABLE = {"The Lighthouse Keeper, ch. 3", "Simple circuits", "Long division", "My family"}


@dataclass(frozen=True, slots=True)
class DemoCourse:
    app: str
    sensor: str
    subject: str
    grade: int | None
    code: str | None
    course_id: str
    name: str
    daily_minutes: float
    total_lessons: int | None
    reports_progress: bool  # the app sends pctComplete; the others leave it to masteredUnits


@dataclass
class DemoLearner:
    who: Learner
    courses: list[DemoCourse]
    diligence: float  # 0.5 (often short of goals) .. 1.3 (beats them)
    accuracy: float
    lessons_passed: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class ResumableRun:
    """A lesson done over several sittings; completed once enough minutes are in."""

    run_id: str
    done_minutes: float
    target_minutes: float


@dataclass
class EventPlan:
    """Events to send, with the sensor each travels under."""

    items: list[tuple[str, dict[str, Any]]]
    rng: random.Random
    counter: int = 0
    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def event_id(self) -> str:
        self.counter += 1
        return stable_event_id("timeledger-demo", str(SEED), str(self.counter))

    def run_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def complete(self, sensor: str, *, actor: dict[str, Any], activity: ActivityRef,
                 run_id: str, ended_at: datetime, metrics: Metrics) -> None:
        """A completion; each new run of the same activity is the learner's next attempt."""
        key = (actor["email"], activity.url)
        self.attempts[key] += 1
        self.add(sensor, completed_event(actor=actor, activity=activity, run_id=run_id,
                                         ended_at=ended_at, metrics=metrics,
                                         attempt=self.attempts[key], event_id=self.event_id()))

    def add(self, sensor: str, event: dict[str, Any]) -> None:
        # The builders give each metrics collection a random id; the demo's are seeded too.
        event["generated"]["id"] = stable_event_id("timeledger-demo", str(SEED), "generated",
                                                   event["id"])
        self.items.append((sensor, event))


def demo_configs() -> list[TimebackConfig]:
    return [TimebackConfig.load(config) for config in APP_CONFIGS]


def _courses() -> list[DemoCourse]:
    out: list[DemoCourse] = []
    for config in demo_configs():
        for course in config.courses:
            out.append(DemoCourse(
                app=config.app_name, sensor=course.sensor or "", subject=course.subject,
                grade=course.grade, code=course.course_code, course_id=course.course_id,
                name=course.name, daily_minutes=course.goals.get("dailyActiveMinutes", 20.0),
                total_lessons=course.total_lessons,
                reports_progress=config.app_name == "MathQuest"))
    return out


def _learners(rng: random.Random, courses: list[DemoCourse]) -> list[DemoLearner]:
    grade3 = [c for c in courses if c.grade == 3]
    grade4 = [c for c in courses if c.grade == 4]
    spanish = [c for c in courses if c.code == "SPAN-101"]
    learners: list[DemoLearner] = []
    for index in range(LEARNER_COUNT):
        taken = list(grade3 if index % 2 == 0 else grade4)
        if index % 3 == 0:
            taken += spanish
        learners.append(DemoLearner(
            who=demo_learner(index), courses=taken,
            diligence=rng.uniform(0.5, 1.3), accuracy=rng.uniform(0.72, 0.97)))
    return learners


def _activity(course: DemoCourse, lesson: str) -> ActivityRef:
    slug = lesson.lower().replace(",", "").replace(".", "").replace(" ", "-")
    url = activity_url(course.sensor, slug, subject=course.subject, grade=course.grade,
                       course_code=course.code)
    return ActivityRef(url=url, name=lesson, subject=course.subject, app_name=course.app,
                       course_id=course.course_id, course_name=course.name)


def _heartbeats(plan: EventPlan, course: DemoCourse, actor: dict[str, Any],
                activity: ActivityRef, run_id: str, start: datetime,
                active_minutes: float) -> datetime:
    """A sitting's windows: mostly focused, with a break now and then. Returns when it ended."""
    at = start
    active_left = timedelta(minutes=active_minutes)
    while active_left > timedelta(0):
        looked_away = plan.rng.random() < 0.12
        inactive = timedelta(seconds=plan.rng.uniform(10, 45)) if looked_away else timedelta(0)
        window = min(HEARTBEAT - inactive, active_left)
        end = at + window + inactive
        plan.add(course.sensor, time_spent_event(
            actor=actor, activity=activity, run_id=run_id, started_at=at, ended_at=end,
            active_ms=window.total_seconds() * 1000, inactive_ms=inactive.total_seconds() * 1000,
            event_id=plan.event_id()))
        active_left -= window
        at = end
    return at


def _metrics(rng: random.Random, learner: DemoLearner, course: DemoCourse,
             active_minutes: float, mastered: int | None = None) -> Metrics:
    total = rng.choice((8, 10, 12, 15, 20))
    correct = min(total, max(0, round(total * min(1.0, rng.gauss(learner.accuracy, 0.06)))))
    passed = correct / total >= 0.8
    # Up to 1 XP per focused minute, and none below 80 % correct (the Timeback rule).
    xp = math.floor(active_minutes * 0.97) if passed else 0
    if mastered is None:
        mastered = 1 if passed else 0
    learner.lessons_passed[course.course_id] += int(passed)
    pct: float | None = None
    if course.reports_progress and course.total_lessons:
        pct = min(100.0, round(learner.lessons_passed[course.course_id] * 100
                               / course.total_lessons, 1))
    return Metrics(xp_earned=xp, total_questions=total, correct_questions=correct,
                   mastered_units=mastered, pct_complete=pct)


def _school_day(plan: EventPlan, learner: DemoLearner, first_start: datetime,
                latest_end: datetime, open_runs: dict[tuple[str, str], ResumableRun]) -> None:
    """One learner's sittings on one day, each course in turn, none ending after `latest_end`."""
    rng = plan.rng
    actor = learner.who.actor(ROSTER_BASE)
    at = first_start
    for course in learner.courses:
        goal = course.daily_minutes * learner.diligence
        lessons_today = rng.choice((1, 2, 2, 3))
        for _ in range(lessons_today):
            lesson = rng.choice(LESSONS[course.name])
            minutes = max(3.0, rng.gauss(goal / lessons_today, 3))
            if at + timedelta(minutes=minutes * 1.2) > latest_end:
                return
            activity = _activity(course, lesson)
            if lesson in RESUMABLE:
                key = (learner.who.email, lesson)
                if key not in open_runs:
                    open_runs[key] = ResumableRun(plan.run_id(), 0.0, 2.5 * minutes)
                run = open_runs[key]
                at = _heartbeats(plan, course, actor, activity, run.run_id, at, minutes)
                run.done_minutes += minutes
                if run.done_minutes >= run.target_minutes:
                    # The app's backend records the completion once the last sitting is done.
                    plan.complete(course.sensor,
                        actor=actor, activity=activity, run_id=run.run_id, ended_at=at,
                        metrics=_metrics(rng, learner, course, run.done_minutes))
                    del open_runs[key]
            else:
                run_id = plan.run_id()
                at = _heartbeats(plan, course, actor, activity, run_id, at, minutes)
                plan.complete(course.sensor,
                    actor=actor, activity=activity, run_id=run_id, ended_at=at,
                    metrics=_metrics(rng, learner, course, minutes))
            at += timedelta(minutes=rng.uniform(2, 25))


def _flag_worthy(plan: EventPlan, learners: list[DemoLearner], today_start: datetime,
                 latest_end: datetime) -> None:
    """A few cases a teacher should look at, one per rule the pipeline flags."""
    rng = plan.rng
    day = today_start - timedelta(days=1) + timedelta(hours=10)

    def setup(index: int) -> tuple[DemoLearner, DemoCourse, dict[str, Any]]:
        learner = learners[index]
        return learner, learner.courses[0], learner.who.actor(ROSTER_BASE)

    # XP above the focused minutes: 40 XP for 6 minutes.
    learner, course, actor = setup(1)
    activity, run_id = _activity(course, LESSONS[course.name][0]), plan.run_id()
    end = _heartbeats(plan, course, actor, activity, run_id, day, 6)
    plan.complete(course.sensor,
        actor=actor, activity=activity, run_id=run_id, ended_at=end,
        metrics=Metrics(xp_earned=40, total_questions=10, correct_questions=9))

    # XP with accuracy under 80 %.
    learner, course, actor = setup(4)
    activity, run_id = _activity(course, LESSONS[course.name][1]), plan.run_id()
    end = _heartbeats(plan, course, actor, activity, run_id, day + timedelta(hours=1), 12)
    plan.complete(course.sensor,
        actor=actor, activity=activity, run_id=run_id, ended_at=end,
        metrics=Metrics(xp_earned=12, total_questions=20, correct_questions=11))

    # Time reported by heartbeats and again by record(time=...): double counting.
    learner, course, actor = setup(7)
    activity, run_id = _activity(course, LESSONS[course.name][2]), plan.run_id()
    start = day + timedelta(hours=2)
    end = _heartbeats(plan, course, actor, activity, run_id, start, 10)
    plan.add(course.sensor, time_spent_event(  # the backend's own idea of when the run began
        actor=actor, activity=activity, run_id=run_id, started_at=start + timedelta(seconds=4),
        ended_at=end, active_ms=596_000, inactive_ms=0, event_id=plan.event_id()))
    plan.complete(course.sensor,
        actor=actor, activity=activity, run_id=run_id, ended_at=end,
        metrics=Metrics(xp_earned=10, total_questions=10, correct_questions=9))

    # A completed run's id reused for a new attempt: heartbeats after its completion.
    learner, course, actor = setup(10)
    activity, run_id = _activity(course, LESSONS[course.name][3]), plan.run_id()
    start = today_start + timedelta(hours=1)
    if start + timedelta(minutes=30) <= latest_end:
        end = _heartbeats(plan, course, actor, activity, run_id, start, 8)
        plan.complete(course.sensor,
            actor=actor, activity=activity, run_id=run_id, ended_at=end,
            metrics=Metrics(xp_earned=8, total_questions=10, correct_questions=10))
        _heartbeats(plan, course, actor, activity, run_id, end + timedelta(minutes=5), 4)

    # Overlapping windows within one run (two tabs open on the same lesson).
    learner, course, actor = setup(13)
    activity, run_id = _activity(course, LESSONS[course.name][4]), plan.run_id()
    start = day + timedelta(hours=3)
    end = _heartbeats(plan, course, actor, activity, run_id, start, 5)
    plan.add(course.sensor, time_spent_event(
        actor=actor, activity=activity, run_id=run_id, started_at=start + timedelta(seconds=20),
        ended_at=start + timedelta(seconds=50), active_ms=30_000, inactive_ms=0,
        event_id=plan.event_id()))
    plan.complete(course.sensor,
        actor=actor, activity=activity, run_id=run_id, ended_at=end,
        metrics=Metrics(xp_earned=5, total_questions=8, correct_questions=8))

    # masteredUnits that look cumulative: 2, 4, 6, 8 in a course the learner tries on the side.
    learner, _, actor = setup(16)
    course = next(c for c in _courses() if c.name == "Science G4")
    at = day - timedelta(days=3)
    for number, units in enumerate((2, 4, 6, 8)):
        activity, run_id = _activity(course, LESSONS[course.name][number]), plan.run_id()
        end = _heartbeats(plan, course, actor, activity, run_id, at, 6)
        plan.complete(course.sensor,
            actor=actor, activity=activity, run_id=run_id, ended_at=end,
            metrics=_metrics(rng, learner, course, 6, mastered=units))
        at += timedelta(days=1)

    # A negative XP correction (allowed, not a flag): a teacher took back 5 XP.
    learner, course, actor = setup(19)
    activity, run_id = _activity(course, LESSONS[course.name][0]), plan.run_id()
    plan.complete(course.sensor,
        actor=actor, activity=activity, run_id=run_id, ended_at=day + timedelta(hours=4),
        metrics=Metrics(xp_earned=-5))


def build_plan(now: datetime, timezone: str = "UTC") -> EventPlan:
    """Every demo event, in the order clients would send them. Same `now`, same events."""
    zone = ZoneInfo(timezone)
    plan = EventPlan(items=[], rng=random.Random(SEED))
    rng = plan.rng
    courses = _courses()
    learners = _learners(rng, courses)
    today = now.astimezone(zone).date()
    today_start = datetime.combine(today, time(0), zone)
    latest_end = now - timedelta(minutes=2)
    open_runs: dict[tuple[str, str], ResumableRun] = {}
    for offset in range(SCHOOL_DAYS - 1, -1, -1):
        day = today - timedelta(days=offset)
        weekend = day.weekday() >= 5
        for index, learner in enumerate(learners):
            if weekend and (index + day.day) % 6 != 0:
                continue  # a few practise at home at the weekend
            if not weekend and rng.random() < 0.08:
                continue  # off sick
            start_hour = 16 if weekend else 8.5 + (index % 6) * 0.25
            first = datetime.combine(day, time(0), zone) + timedelta(
                hours=start_hour, minutes=rng.uniform(0, 20))
            if offset == 0:
                # Today: the school day so far, ending a little before now.
                first = min(first, now - timedelta(hours=rng.uniform(1.0, 5.0)))
                first = max(first, today_start + timedelta(minutes=5))
            _school_day(plan, learner, first.astimezone(now.tzinfo),
                        min(latest_end, datetime.combine(day, time(23, 0), zone)), open_runs)
    _flag_worthy(plan, learners, today_start, latest_end)
    plan.items = [(s, e) for s, e in plan.items if e["eventTime"] <= format_utc(latest_end)]
    plan.items.sort(key=lambda item: item[1]["eventTime"])
    return plan


def _envelopes(plan: EventPlan, now: datetime) -> Iterator[tuple[bytes, int]]:
    """Envelopes of at most EVENTS_PER_ENVELOPE, each one sensor's, in send order."""
    pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for sensor, event in plan.items:
        pending[sensor].append(event)
        if len(pending[sensor]) == EVENTS_PER_ENVELOPE:
            yield orjson.dumps(envelope(sensor, pending.pop(sensor), now)), EVENTS_PER_ENVELOPE
    for sensor, batch in pending.items():
        yield orjson.dumps(envelope(sensor, batch, now)), len(batch)


def has_events(platform: Platform) -> bool:
    with platform.engine.connect() as conn:
        return conn.execute(sa.select(events.c.seq).limit(1)).first() is not None


def register_demo_courses(platform: Platform) -> int:
    """Put the demo apps' courses (goals, totalLessons) in the platform's course registry."""
    count = 0
    with platform.engine.begin() as conn:
        for config in demo_configs():
            count += register_courses(conn, config, f"demo:{config.app_name}", platform.now())
    return count


@dataclass(frozen=True, slots=True)
class DemoFill:
    """What `fill_demo` sent."""

    events: int
    learners: int
    courses: int
    roster_users: int  # the sample OneRoster export's users (teachers and students), imported


def _no_progress(sent: int, total: int) -> None:
    return None


def fill_demo(platform: Platform,
              on_progress: Callable[[int, int], None] = _no_progress) -> DemoFill | None:
    """Send the demo through the real ingest path; None (and nothing sent) if the store has
    events. `on_progress(sent, total)` is called after each envelope (the CLI draws a bar)."""
    if has_events(platform):
        return None
    now = platform.now()
    courses = register_demo_courses(platform)
    roster = load_demo_roster(platform.engine, now)
    plan = build_plan(now, platform.settings.timezone)
    batches = list(_envelopes(plan, now))
    total = sum(size for _, size in batches)
    sent = 0
    for raw, size in batches:
        platform.ingestor.ingest(parse_envelope(raw), client_id="demo")
        sent += size
        on_progress(sent, total)
    platform.project_pending()  # browsable at once, before serve's projector has started
    learners = len({e["actor"]["email"] for _, e in plan.items})
    return DemoFill(events=total, learners=learners, courses=courses,
                    roster_users=roster.counts["users.csv"].added)
