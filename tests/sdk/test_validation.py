"""Nothing invalid is queued: every rule raises ValidationError naming the snake_case field."""

from __future__ import annotations

from typing import Any

import pytest

from timeledger.sdk import Client, Metrics, TimeOptions, ValidationError
from timeledger.testing import FakeClock

from .conftest import MATH, USER

ACTIVITY = {"id": "fractions-1", "name": "Fractions 1", "course": MATH}


@pytest.mark.parametrize(("metrics", "field", "message"), [
    ({}, "metrics.xp_earned", "xp_earned is required."),
    ({"xp_earned": "5"}, "metrics.xp_earned", "Expected a number."),
    ({"xp_earned": float("nan")}, "metrics.xp_earned", "Expected a number."),
    ({"xp_earned": True}, "metrics.xp_earned", "Expected a number."),
    ({"xp_earned": 1, "total_questions": 3}, "metrics",
     "total_questions and correct_questions must be provided together."),
    ({"xpEarned": 1, "correctQuestions": 3}, "metrics",
     "total_questions and correct_questions must be provided together."),
    ({"xp_earned": 1, "total_questions": 3, "correct_questions": 4},
     "metrics.correct_questions", "correct_questions cannot exceed total_questions."),
    ({"xp_earned": 1, "total_questions": -1, "correct_questions": 0},
     "metrics.total_questions", "total_questions must be a non-negative integer."),
    ({"xp_earned": 1, "mastered_units": 1.5},
     "metrics.mastered_units", "mastered_units must be a non-negative integer."),
    ({"xp_earned": 1, "pct_complete": 101},
     "metrics.pct_complete", "pct_complete must be a number from 0 to 100."),
    (Metrics(xp_earned=1, pct_complete=-1),
     "metrics.pct_complete", "pct_complete must be a number from 0 to 100."),
    ({"xp_earned": 1, "score": 3}, "metrics.score", "Unknown metric 'score'"),
    ([1, 2], "metrics", "Expected a dict of metrics or timeledger.Metrics"),
])
def test_metric_rules(client: Client, clock: FakeClock, metrics: Any, field: str,
                      message: str) -> None:
    activity = client.activity.start(id="a", name="A", course=MATH, user=USER)
    clock.advance(20)
    with pytest.raises(ValidationError) as info:
        activity.end(metrics)
    assert info.value.field == field
    assert info.value.message.startswith(message)
    # nothing was changed: the activity runs on and only its first heartbeat is queued
    assert not activity.is_ended and client.activity.current is activity
    assert len(client.pending()) == 1
    with pytest.raises(ValidationError) as again:
        client.activity.record(user=USER, activity=ACTIVITY, metrics=metrics)
    assert again.value.field == field
    assert len(client.pending()) == 1


def test_negative_xp_is_a_correction_and_allowed(client: Client) -> None:
    receipt = client.activity.record(user=USER, activity=ACTIVITY, metrics={"xp_earned": -3})
    assert receipt.delivered is True


@pytest.mark.parametrize(("time", "field"), [
    ({"active": -1}, "time.active"),
    ({"inactive": 5}, "time.active"),
    ({"active": 1, "inactive": "x"}, "time.inactive"),
    ({"active": 86_400_001}, "time.active"),
    ({"active": 1, "paused": 2}, "time.paused"),
    (5, "time"),
])
def test_time_override_rules(client: Client, time: Any, field: str) -> None:
    activity = client.activity.start(id="a", name="A", course=MATH, user=USER)
    with pytest.raises(ValidationError) as info:
        activity.end({"xp_earned": 1}, time=time)
    assert info.value.field == field
    assert client.pending() == [] and not activity.is_ended


@pytest.mark.parametrize(("time", "field"), [
    ({"started_at": "2025-01-15T11:00:00Z", "active_ms": 5}, "time.ended_at"),
    ({"started_at": "yesterday", "ended_at": "2025-01-15T11:00:00Z", "active_ms": 5},
     "time.started_at"),
    ({"started_at": "2025-01-15T11:00:00Z", "ended_at": "2025-01-15T10:00:00Z",
      "active_ms": 5}, "time.ended_at"),
    ({"started_at": "2025-01-15T11:00:00Z", "ended_at": "2025-01-15T11:00:05Z",
      "active_ms": -5}, "time.active_ms"),
    ({"active": 5}, "time.active"),
])
def test_record_time_rules(client: Client, time: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        client.activity.record(user=USER, activity=ACTIVITY, metrics={"xp_earned": 1},
                               time=time)
    assert info.value.field == field
    assert client.pending() == []


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"user": {"id": "x"}}, "user.email"),
    ({"user": "ada"}, "user"),
    ({"activity": {"id": "", "name": "A", "course": MATH}}, "activity.id"),
    ({"activity": {"id": "a", "course": MATH}}, "activity.name"),
    ({"activity": {"id": "a", "name": "A"}}, "activity.course"),
    ({"activity": {"id": "a", "name": "A", "course": {"subject": "Art", "grade": 1}}},
     "activity.course"),
    ({"run_id": "1234"}, "run_id"),
])
def test_record_input_rules(client: Client, kwargs: dict[str, Any], field: str) -> None:
    options: dict[str, Any] = {"user": USER, "activity": ACTIVITY, "metrics": {"xp_earned": 1}}
    options.update(kwargs)
    with pytest.raises(ValidationError) as info:
        client.activity.record(**options)
    assert info.value.field == field
    assert client.pending() == []


def test_time_options_are_checked() -> None:
    with pytest.raises(ValidationError) as info:
        TimeOptions(heartbeat_interval=0)
    assert info.value.field == "time.heartbeat_interval"
    with pytest.raises(ValidationError) as info:
        TimeOptions(retry_attempts=-1)
    assert info.value.field == "time.retry_attempts"


def test_start_rejects_unknown_time_option(client: Client) -> None:
    with pytest.raises(ValidationError) as info:
        client.activity.start(id="a", name="A", course=MATH, user=USER,
                              time={"heartbeat": 5})
    assert info.value.field == "time.heartbeat"
    assert client.activity.current is None
