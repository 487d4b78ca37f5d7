"""Build Timeback envelopes for tests from a few domain values, through the real builders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    activity_url,
    completed_event,
    envelope,
    time_spent_event,
)
from timeledger.caliper.metrics import Metrics

SENSOR = "https://app.example.com"
T0 = datetime(2025, 1, 13, 10, 0, tzinfo=UTC)  # a Monday


def unique_email(tag: str = "learner") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.edu"


def activity(slug: str = "fractions-1", name: str = "Fractions 1") -> ActivityRef:
    return ActivityRef(url=activity_url(SENSOR, slug, subject="Math", grade=3), name=name,
                       subject="Math", app_name="Example App", course_id="course-abc",
                       course_name="Math G3")


def heartbeat(email: str, run_id: str, start: datetime, active_s: float, inactive_s: float = 0,
              ref: ActivityRef | None = None, **kwargs: Any) -> dict[str, Any]:
    return time_spent_event(
        actor=Learner(email, "student-1").actor("https://roster.example.com"),
        activity=ref or activity(), run_id=run_id, started_at=start,
        ended_at=start + timedelta(seconds=active_s + inactive_s),
        active_ms=active_s * 1000, inactive_ms=inactive_s * 1000, **kwargs)


def completion(email: str, run_id: str, at: datetime, xp: float, total: int | None = None,
               correct: int | None = None, ref: ActivityRef | None = None,
               **kwargs: Any) -> dict[str, Any]:
    return completed_event(
        actor=Learner(email, "student-1").actor("https://roster.example.com"),
        activity=ref or activity(), run_id=run_id, ended_at=at,
        metrics=Metrics(xp_earned=xp, total_questions=total, correct_questions=correct),
        **kwargs)


def wrap(*events: dict[str, Any]) -> dict[str, Any]:
    return envelope(SENSOR, list(events), datetime.now(UTC))
