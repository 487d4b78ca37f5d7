"""The stateful story over real HTTP: a run across two sessions, resends, conflicts, time zones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.platform import PlatformProcess
from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    completed_event,
    envelope,
    time_spent_event,
)
from timeledger.caliper.metrics import Metrics

SENSOR = "https://lessons.example.com"
LESSON = ActivityRef(url=f"{SENSOR}/activities/Math/g4/long-division", name="Long division",
                     subject="Math", app_name="Lessons", course_id="math-g4",
                     course_name="Math G4")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def unique_learner() -> tuple[dict[str, Any], str]:
    email = f"story-{uuid.uuid4().hex[:10]}@example.edu"
    return Learner(email, f"student-{uuid.uuid4().hex[:6]}").actor(SENSOR), email


def heartbeats(actor: dict[str, Any], run_id: str, start: datetime, count: int,
               active_ms: int, inactive_ms: int) -> list[dict[str, Any]]:
    """`count` back-to-back 15-second windows from `start`."""
    step = timedelta(seconds=15)
    return [time_spent_event(actor=actor, activity=LESSON, run_id=run_id,
                             started_at=start + i * step, ended_at=start + (i + 1) * step,
                             active_ms=active_ms, inactive_ms=inactive_ms)
            for i in range(count)]


def send(platform: PlatformProcess, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send one envelope; returns its job's per-event results."""
    reply = platform.send(envelope(SENSOR, events, utc("2025-01-15T12:00:00")))
    assert reply.status_code == 200, reply.text
    job = platform.get(f"/jobs/{reply.json()['jobId']}/status")["job"]
    assert job["state"] == "completed"
    results: list[dict[str, Any]] = job["returnValue"]["results"]
    return results


def statuses(results: list[dict[str, Any]]) -> list[str]:
    return [r["status"] for r in results]


def test_a_run_resumed_on_another_day_and_completed_by_the_backend(
        platform: PlatformProcess) -> None:
    actor, email = unique_learner()
    run_id = str(uuid.uuid4())
    # Monday: 8 windows of 12 s active + 3 s inactive, then end() without metrics
    monday = heartbeats(actor, run_id, utc("2025-01-13T15:00:00"), 8, 12000, 3000)
    assert statuses(send(platform, monday)) == ["stored"] * 8
    # Wednesday: the app passes the same runId back; 4 windows of 15 s active
    wednesday = heartbeats(actor, run_id, utc("2025-01-15T16:00:00"), 4, 15000, 0)
    assert statuses(send(platform, wednesday)) == ["stored"] * 4
    # the backend records the completion with the run id
    done = completed_event(actor=actor, activity=LESSON, run_id=run_id,
                           ended_at=utc("2025-01-15T16:01:05"),
                           metrics=Metrics(xp_earned=2, total_questions=10, correct_questions=9))
    assert statuses(send(platform, [done])) == ["stored"]

    run = platform.get(f"/api/v1/runs/{run_id}")
    assert run["learner"]["email"] == email
    assert run["active_seconds"] == 8 * 12 + 4 * 15  # 156
    assert run["inactive_seconds"] == 8 * 3  # 24
    assert run["heartbeats"] == 12
    assert run["sessions"] == 2
    assert [d["date"] for d in run["session_days"]] == ["2025-01-13", "2025-01-15"]
    assert len(run["windows"]) == 12
    assert run["completed"] is True and run["completions"] == 1
    assert run["completion"]["event_id"] == done["id"]
    assert run["completion"]["accuracy"] == 90.0
    assert run["xp_earned"] == 2
    assert run["flags"] == []  # 2 XP for 2.6 focused minutes is fine

    summary = platform.get(f"/api/v1/learners/{email}/summary",
                           **{"from": "2025-01-12", "to": "2025-01-16"})
    days = {d["date"]: d for d in summary["days"]}
    assert sorted(days) == ["2025-01-13", "2025-01-15"]
    assert days["2025-01-13"]["active_minutes"] == 1.6  # 96 s
    assert days["2025-01-13"]["inactive_minutes"] == 0.4  # 24 s
    assert days["2025-01-13"]["completions"] == 0
    assert days["2025-01-15"]["active_minutes"] == 1.0  # 60 s
    assert (days["2025-01-15"]["xp"], days["2025-01-15"]["completions"]) == (2, 1)
    assert days["2025-01-15"]["accuracy"] == 90.0
    assert summary["totals"]["active_minutes"] == 2.6
    only_monday = platform.get(f"/api/v1/learners/{email}/summary",
                               **{"from": "2025-01-13", "to": "2025-01-13"})
    assert [d["date"] for d in only_monday["days"]] == ["2025-01-13"]


def test_resends_count_once_and_a_changed_body_is_a_conflict(platform: PlatformProcess) -> None:
    actor, _email = unique_learner()
    run_id = str(uuid.uuid4())
    events = heartbeats(actor, run_id, utc("2025-01-14T09:00:00"), 3, 10000, 5000)
    done = completed_event(actor=actor, activity=LESSON, run_id=run_id,
                           ended_at=utc("2025-01-14T09:00:45"), metrics=Metrics(xp_earned=0.5))
    first = send(platform, [*events, done])
    assert statuses(first) == ["stored"] * 4
    for _ in range(2):  # the same envelope twice more
        again = send(platform, [*events, done])
        assert statuses(again) == ["duplicate"] * 4
        assert [r["allocatedId"] for r in again] == [r["allocatedId"] for r in first]

    changed = {**events[0], "eventTime": "2025-01-14T09:30:00.000Z"}
    (conflict,) = send(platform, [changed])
    assert conflict["status"] == "conflict" and conflict["externalId"] == events[0]["id"]

    window_again = {**events[1], "id": f"urn:uuid:{uuid.uuid4()}"}  # same window, new event id
    done_again = {**done, "id": f"urn:uuid:{uuid.uuid4()}"}  # a retried submit, new event id
    assert statuses(send(platform, [window_again, done_again])) == [
        "duplicate_window", "duplicate_completion"]

    run = platform.get(f"/api/v1/runs/{run_id}")
    assert run["active_seconds"] == 30 and run["inactive_seconds"] == 15
    assert run["heartbeats"] == 3
    assert run["completions"] == 1 and run["xp_earned"] == 0.5


def test_learner_days_are_counted_in_the_platform_time_zone(make_platform: Any) -> None:
    platform = make_platform(timezone="America/New_York")
    actor, email = unique_learner()
    late = time_spent_event(actor=actor, activity=LESSON, run_id=str(uuid.uuid4()),
                            started_at=utc("2025-01-14T01:59:00"),
                            ended_at=utc("2025-01-14T02:00:00"), active_ms=60000, inactive_ms=0)
    assert statuses(send(platform, [late])) == ["stored"]
    (day,) = platform.get(f"/api/v1/learners/{email}/summary")["days"]
    assert day["date"] == "2025-01-13"  # 02:00Z is 21:00 on the 13th in New York (UTC-5)
    assert day["active_minutes"] == 1
