"""Nothing invalid is queued: every rule raises ValidationError naming the snake_case field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sdk.conftest import MATH, USER
from tests.support.events import activity
from timeledger.caliper import CaliperError, Learner, bounds
from timeledger.caliper.builders import completed_event, envelope, time_spent_event
from timeledger.caliper.envelope import check_envelope
from timeledger.caliper.times import format_utc
from timeledger.sdk import Client, Metrics, TimeOptions, ValidationError
from timeledger.testing import FakeClock, FakePlatform

ACTIVITY = {"id": "fractions-1", "name": "Fractions 1", "course": MATH}


def assert_the_platform_accepts(fake: FakePlatform) -> None:
    """What the SDK sent passes the platform's own wire checks (FakePlatform does not run them)."""
    sent = list(fake.events.values())
    parsed = check_envelope(envelope("https://app.example.com", sent, datetime.now(UTC)))
    assert len(parsed.timeback) == len(sent) > 0


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
    ({"xp_earned": 1_000_000.001}, "metrics.xp_earned",
     "xp_earned must be a number from -1000000 to 1000000."),
    ({"xp_earned": -1_000_000.001}, "metrics.xp_earned",
     "xp_earned must be a number from -1000000 to 1000000."),
    ({"xp_earned": 1e308}, "metrics.xp_earned",
     "xp_earned must be a number from -1000000 to 1000000."),
    ({"xp_earned": 1, "total_questions": 1_000_001, "correct_questions": 1},
     "metrics.total_questions", "total_questions must be at most 1000000."),
    ({"xp_earned": 1, "total_questions": 1_000_000, "correct_questions": 1_000_001},
     "metrics.correct_questions", "correct_questions must be at most 1000000."),
    ({"xp_earned": 1, "mastered_units": 1_000_001},
     "metrics.mastered_units", "mastered_units must be at most 1000000."),
    ({"xp_earned": 1, "pct_complete": 100.001},
     "metrics.pct_complete", "pct_complete must be a number from 0 to 100."),
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


@pytest.mark.parametrize("metrics", [
    {"xp_earned": 1_000_000, "total_questions": 1_000_000, "correct_questions": 1_000_000,
     "mastered_units": 1_000_000, "pct_complete": 100},
    {"xp_earned": -1_000_000, "total_questions": 0, "correct_questions": 0, "mastered_units": 0,
     "pct_complete": 0},
])
def test_metrics_at_the_bounds_are_sent(client: Client, fake: FakePlatform,
                                        metrics: dict[str, float]) -> None:
    receipt = client.activity.record(user=USER, activity=ACTIVITY, metrics=metrics)
    assert receipt.delivered is True
    assert_the_platform_accepts(fake)


@pytest.mark.parametrize(("time", "field"), [
    ({"active": -1}, "time.active"),
    ({"inactive": 5}, "time.active"),
    ({"active": 1, "inactive": "x"}, "time.inactive"),
    ({"active": 86_400_001}, "time.active"),
    ({"active": 86_400_000, "inactive": 1}, "time.inactive"),  # a window-less report: 24 h
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
    # bounds: years 1970-2999, a window of at most a day, no more time than it lasts + 1 s
    ({"started_at": "1969-12-31T23:59:59.999Z", "ended_at": "1970-01-01T00:00:05Z",
      "active_ms": 5}, "time.started_at"),
    ({"started_at": datetime(1, 1, 1, tzinfo=UTC), "ended_at": "1970-01-01T00:00:05Z",
      "active_ms": 5}, "time.started_at"),
    ({"started_at": "2999-12-31T23:59:59Z", "ended_at": datetime(3000, 1, 1, tzinfo=UTC),
      "active_ms": 5}, "time.ended_at"),
    ({"started_at": "2025-01-15T10:00:00Z", "ended_at": "2025-01-16T10:00:00.001Z",
      "active_ms": 5}, "time.ended_at"),
    ({"started_at": "2025-01-15T10:00:00Z", "ended_at": "2025-01-15T10:00:05Z",
      "active_ms": 6_001}, "time.active_ms"),
    ({"started_at": "2025-01-15T10:00:00Z", "ended_at": "2025-01-15T10:00:00.001Z",
      "active_ms": 1, "inactive_ms": 1_001}, "time.inactive_ms"),
])
def test_record_time_rules(client: Client, time: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        client.activity.record(user=USER, activity=ACTIVITY, metrics={"xp_earned": 1},
                               time=time)
    assert info.value.field == field
    assert client.pending() == []


@pytest.mark.parametrize("time", [
    {"started_at": "2025-01-15T10:00:00Z", "ended_at": "2025-01-15T10:00:05Z",
     "active_ms": 4_000, "inactive_ms": 2_000},  # 5 s + the 1 s slack
    {"started_at": datetime(1970, 1, 1, tzinfo=UTC), "ended_at": "1970-01-02T00:00:00Z",
     "active_ms": 86_400_000, "inactive_ms": 1_000},
    {"started_at": "2999-12-31T00:00:00Z", "ended_at": "2999-12-31T23:59:59.999Z",
     "active_ms": 1},
])
def test_record_time_at_the_bounds_is_sent(client: Client, fake: FakePlatform,
                                           time: dict[str, Any]) -> None:
    receipt = client.activity.record(user=USER, activity=ACTIVITY, metrics={"xp_earned": 1},
                                     time=time)
    assert receipt.delivered is True
    assert_the_platform_accepts(fake)
    [window] = [e["generated"]["items"][0] for e in fake.events.values()
                if e["type"] == "TimeSpentEvent"]
    assert (window["startDate"][:4], window["endDate"][:4]) == (
        str(time["started_at"])[:4], str(time["ended_at"])[:4])


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"user": {"id": "x"}}, "user.email"),
    ({"user": "ada"}, "user"),
    ({"activity": {"id": "", "name": "A", "course": MATH}}, "activity.id"),
    ({"activity": {"id": "a", "course": MATH}}, "activity.name"),
    ({"activity": {"id": "a", "name": "A"}}, "activity.course"),
    ({"activity": {"id": "a", "name": "A", "course": {"subject": "Art", "grade": 1}}},
     "activity.course"),
    ({"run_id": "row\x00981"}, "run_id"),
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


def test_a_tracked_window_past_a_day_is_reported_to_on_error_not_sent(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    """The process slept (or a heartbeat interval was set past a day): the window is refused by
    the bounds before it is queued, and tracking goes on with the next window."""
    errors: list[tuple[Exception, Any]] = []
    activity = client.activity.start(
        id="a", name="A", course=MATH, user=USER, on_error=lambda e, c: errors.append((e, c)),
        time={"heartbeat_interval": 86_401, "hidden_timeout": None})
    clock.advance(86_401)  # one window of a day and a second
    clock.advance(15)
    activity.end()
    [(error, context)] = errors
    assert isinstance(error, ValidationError) and error.field == "ended_at"
    assert error.message == "A window may span at most 24 hours; this one spans 86401000 ms"
    assert (context.kind, context.run_id) == ("heartbeat", activity.run_id)
    assert client.flush()
    assert [e["generated"]["items"][0]["value"] for e in fake.time_spent] == [15.0]


STARTS = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2025, 1, 15, 10, tzinfo=UTC),
          datetime(2999, 12, 31, 0, 0, 0, 1000, tzinfo=UTC),
          datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC))
DAY = bounds.MAX_WINDOW_MS


def platform_accepts(events: list[dict[str, Any]]) -> bool:
    try:
        check_envelope(envelope("https://quiz.example.com", events, datetime.now(UTC)))
    except CaliperError:
        return False
    return True


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.sampled_from(STARTS), span=st.sampled_from((0, 1, 10_000, DAY, DAY + 1)),
       active=st.sampled_from((0, 1, 10_000, DAY, DAY + 1)),
       inactive=st.sampled_from((0, bounds.WINDOW_SLACK_MS, bounds.WINDOW_SLACK_MS + 1)),
       xp=st.sampled_from((0, bounds.MAX_XP, -bounds.MAX_XP, bounds.MAX_XP + 0.001, 1e308)),
       count=st.sampled_from((None, bounds.MAX_COUNT, bounds.MAX_COUNT + 1)))
def test_record_accepts_exactly_what_the_platform_accepts(
        client: Client, fake: FakePlatform, start: datetime, span: int, active: int,
        inactive: int, xp: float, count: int | None) -> None:
    """At and past every bound, `record()` refuses (ValidationError) just what the platform's
    wire checks would refuse, and what it sends passes them."""
    end = start + timedelta(milliseconds=span)
    metrics = Metrics(xp_earned=xp, total_questions=count, correct_questions=count,
                      mastered_units=count)
    time = {"started_at": format_utc(start), "ended_at": format_utc(end), "active_ms": active,
            "inactive_ms": inactive}
    before = len(fake.events)
    try:
        receipt = client.activity.record(user=USER, activity=ACTIVITY, metrics=metrics,
                                         time=time)
    except ValidationError:
        receipt = None
    actor, run = Learner(USER["email"]).actor("https://quiz.example.com"), str(uuid.uuid4())
    equivalent = [
        time_spent_event(actor=actor, activity=activity(), run_id=run, started_at=start,
                         ended_at=end, active_ms=active, inactive_ms=inactive),
        completed_event(actor=actor, activity=activity(), run_id=run, ended_at=end,
                        metrics=metrics)]
    assert (receipt is not None) == platform_accepts(equivalent)
    sent = list(fake.events.values())[before:]
    assert len(sent) == (2 if receipt is not None else 0)
    if sent:
        assert platform_accepts(sent)
