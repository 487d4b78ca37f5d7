"""The Activity state machine: windows, active/inactive split, pause, idle, hidden timeout, end."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.sdk.conftest import MATH, USER, make_client
from timeledger.sdk import (
    Activity,
    ActivityEndedError,
    ActivityInProgressError,
    Client,
    Metrics,
    TimeOptions,
    ValidationError,
)
from timeledger.testing import FakeClock, FakePlatform


def start(client: Client, **kwargs: Any) -> Activity:
    options: dict[str, Any] = {"id": "fractions-1", "name": "Fractions 1", "course": MATH,
                               "user": USER}
    options.update(kwargs)
    return client.activity.start(**options)


def windows(fake: FakePlatform) -> list[tuple[str, str, float, float]]:
    """(startDate, endDate, active s, inactive s) of every accepted heartbeat, in order."""
    out = []
    for event in fake.time_spent:
        items = {item["type"]: item for item in event["generated"]["items"]}
        first = event["generated"]["items"][0]
        out.append((first["startDate"], first["endDate"], items["active"]["value"],
                    items["inactive"]["value"] if "inactive" in items else 0.0))
    return out


def test_heartbeat_every_interval_with_contiguous_windows(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    activity = start(client)
    assert activity.started_at == clock.now()
    assert str(uuid.UUID(activity.run_id)) == activity.run_id  # a fresh UUID when none given
    clock.advance(45)
    assert len(client.pending()) == 3
    assert client.flush()
    assert windows(fake) == [
        ("2025-01-15T10:00:00.000Z", "2025-01-15T10:00:15.000Z", 15.0, 0.0),
        ("2025-01-15T10:00:15.000Z", "2025-01-15T10:00:30.000Z", 15.0, 0.0),
        ("2025-01-15T10:00:30.000Z", "2025-01-15T10:00:45.000Z", 15.0, 0.0),
    ]
    assert activity.total_active_ms == 45000
    assert fake.time_spent[0]["eventTime"] == "2025-01-15T10:00:15.000Z"
    assert fake.time_spent[0]["extensions"]["runId"] == activity.run_id
    assert fake.time_spent[0]["session"] == f"urn:uuid:{activity.run_id}"


def test_an_hour_of_heartbeats_is_240_windows(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    activity = start(client)
    clock.advance(3600)
    client.flush()
    assert len(fake.time_spent) == 240
    assert fake.active_seconds() == 3600.0
    assert activity.total_active_ms == 3_600_000


def test_pause_splits_active_and_inactive(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    activity = start(client)
    clock.advance(5)
    activity.pause()
    assert activity.is_paused
    clock.advance(7)
    activity.resume()
    assert not activity.is_paused
    clock.advance(3)
    assert activity.elapsed_ms == 0  # the 15 s heartbeat just fired
    clock.advance(4)
    assert activity.elapsed_ms == 4000
    activity.end()
    client.flush()
    assert windows(fake) == [
        ("2025-01-15T10:00:00.000Z", "2025-01-15T10:00:15.000Z", 8.0, 7.0),
        ("2025-01-15T10:00:15.000Z", "2025-01-15T10:00:19.000Z", 4.0, 0.0),
    ]
    assert activity.is_ended and client.activity.current is None


def test_idle_timeout_counts_time_without_input_as_inactive(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    activity = start(client, time=TimeOptions(heartbeat_interval=60, idle_timeout=20))
    clock.advance(10)
    activity.touch()
    clock.advance(40)  # active until 30 s, idle from then on
    assert activity.is_paused
    activity.touch()  # resumes
    assert not activity.is_paused
    clock.advance(10)  # heartbeat at 60 s
    client.flush()
    assert windows(fake) == [("2025-01-15T10:00:00.000Z", "2025-01-15T10:01:00.000Z",
                                  40.0, 20.0)]


def test_hidden_timeout_flushes_stops_and_resumes_with_a_fresh_window(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    events: list[str] = []
    activity = start(client, time={"hidden_timeout": 60},
                     on_pause=lambda: events.append("pause"),
                     on_resume=lambda: events.append("resume"))
    clock.advance(10)
    activity.pause()
    clock.advance(59)
    assert events == []
    clock.advance(1)  # 60 s paused: flushed and stopped
    assert events == ["pause"]
    client.flush()
    sent = len(fake.time_spent)
    clock.advance(600)  # away: no heartbeats at all
    client.flush()
    assert len(fake.time_spent) == sent
    activity.resume()
    assert events == ["pause", "resume"]
    clock.advance(15)
    activity.end()
    client.flush()
    assert windows(fake) == [
        ("2025-01-15T10:00:00.000Z", "2025-01-15T10:00:15.000Z", 10.0, 5.0),
        ("2025-01-15T10:00:15.000Z", "2025-01-15T10:00:30.000Z", 0.0, 15.0),
        ("2025-01-15T10:00:30.000Z", "2025-01-15T10:00:45.000Z", 0.0, 15.0),
        ("2025-01-15T10:00:45.000Z", "2025-01-15T10:01:00.000Z", 0.0, 15.0),
        ("2025-01-15T10:01:00.000Z", "2025-01-15T10:01:10.000Z", 0.0, 10.0),
        # the 600 s away are not reported; a clean window starts on return
        ("2025-01-15T10:11:10.000Z", "2025-01-15T10:11:25.000Z", 15.0, 0.0),
    ]


def test_idle_beyond_hidden_timeout_also_stops_and_touch_resumes(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    events: list[str] = []
    activity = start(client, time={"idle_timeout": 30, "hidden_timeout": 120,
                                   "heartbeat_interval": 300},
                     on_pause=lambda: events.append("pause"),
                     on_resume=lambda: events.append("resume"))
    clock.advance(149)
    assert events == []
    clock.advance(1)  # idle since 30 s, for 120 s
    assert events == ["pause"]
    clock.advance(50)
    activity.touch()
    assert events == ["pause", "resume"]
    clock.advance(5)
    activity.end()
    client.flush()
    assert windows(fake) == [
        ("2025-01-15T10:00:00.000Z", "2025-01-15T10:02:30.000Z", 30.0, 120.0),
        ("2025-01-15T10:03:20.000Z", "2025-01-15T10:03:25.000Z", 5.0, 0.0),
    ]


def test_only_one_activity_at_a_time(client: Client, clock: FakeClock) -> None:
    first = start(client)
    assert client.activity.current is first
    with pytest.raises(ActivityInProgressError, match="Another activity is already in progress"):
        start(client, id="other")
    first.end()
    second = start(client, id="other")
    assert client.activity.current is second


def test_end_with_metrics_sends_final_heartbeat_then_completion(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    activity = start(client)
    clock.advance(20)
    receipt = activity.end({"xp_earned": 3, "total_questions": 4, "correct_questions": 3,
                            "mastered_units": 1, "pct_complete": 40})
    assert receipt.delivered is True
    assert activity.is_ended
    ordered = [e["type"] for envelope in fake.envelopes for e in envelope["data"]]
    assert ordered == ["TimeSpentEvent", "TimeSpentEvent", "ActivityEvent"]
    completion = fake.completions[0]
    assert completion["eventTime"] == "2025-01-15T10:00:20.000Z"
    assert completion["generated"]["items"] == [
        {"type": "xpEarned", "value": 3}, {"type": "totalQuestions", "value": 4},
        {"type": "correctQuestions", "value": 3}, {"type": "masteredUnits", "value": 1}]
    assert completion["generated"]["extensions"] == {"pctCompleteApp": 40.0}
    assert completion["extensions"] == {"courseId": "math-3", "runId": activity.run_id}
    assert fake.active_seconds() == 20.0
    with pytest.raises(ActivityEndedError):
        activity.end()


def test_metrics_object_is_accepted_like_a_dict(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    activity = start(client, time=False)
    activity.end(Metrics(xp_earned=2, total_questions=5, correct_questions=4, mastered_units=1,
                         pct_complete=100))
    client.activity.record(user=USER, metrics=Metrics(xp_earned=1),
                           activity={"id": "b", "name": "B", "course": MATH})
    assert [c["generated"]["items"] for c in fake.completions] == [
        [{"type": "xpEarned", "value": 2}, {"type": "totalQuestions", "value": 5},
         {"type": "correctQuestions", "value": 4}, {"type": "masteredUnits", "value": 1}],
        [{"type": "xpEarned", "value": 1}]]
    assert fake.completions[0]["generated"]["extensions"] == {"pctCompleteApp": 100.0}


def test_end_time_override_replaces_the_open_window(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    activity = start(client)
    clock.advance(20)
    activity.end({"xp_earned": 1}, time={"active": 90_000, "inactive": 5_000})
    # 95 s do not fit the 5 s open window (bounds: its length + 1 s), so it starts 95 s back
    assert windows(fake) == [
        ("2025-01-15T10:00:00.000Z", "2025-01-15T10:00:15.000Z", 15.0, 0.0),
        ("2025-01-15T09:58:45.000Z", "2025-01-15T10:00:20.000Z", 90.0, 5.0),
    ]


def test_end_time_override_that_fits_keeps_the_open_window(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    activity = start(client)
    clock.advance(20)
    activity.end({"xp_earned": 1}, time={"active": 5_000, "inactive": 1_000})  # 5 s + 1 s slack
    assert windows(fake)[-1] == ("2025-01-15T10:00:15.000Z", "2025-01-15T10:00:20.000Z", 5.0, 1.0)


def test_time_false_sends_no_time_unless_overridden(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    activity = start(client, time=False)
    clock.advance(120)
    assert client.pending() == []
    assert activity.elapsed_ms == 0
    activity.end({"xp_earned": 2}, time={"active": 60_000})
    assert windows(fake) == [("2025-01-15T10:00:00.000Z", "2025-01-15T10:02:00.000Z",
                                  60.0, 0.0)]
    assert len(fake.completions) == 1
    second = start(client, id="b", time=False)
    clock.advance(30)
    second.end()
    assert len(fake.events) == 2


def test_on_flush_reports_active_ms_of_each_delivered_heartbeat(
        client: Client, clock: FakeClock) -> None:
    flushed: list[int] = []
    activity = start(client, on_flush=flushed.append)
    clock.advance(15)
    activity.pause()
    clock.advance(15)
    assert flushed == []
    client.flush()
    assert flushed == [15000, 0]


def test_run_id_is_kept_and_normalised(client: Client, clock: FakeClock,
                                       fake: FakePlatform) -> None:
    run = "urn:uuid:3F0C6A52-9B1E-4C1E-8D3A-5B7F2F1E9A10"
    activity = start(client, run_id=run)
    assert activity.run_id == "3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10"
    activity.end()
    first = start(client, time=False)
    first.end()
    second = start(client, time=False)
    second.end()
    assert first.run_id != second.run_id  # each start without a run_id: a new run
    client.flush()
    with pytest.raises(ValidationError) as info:
        start(client, id="x", run_id="row\x00981")
    assert info.value.field == "run_id"
    assert "printable" in info.value.message
    assert client.activity.current is None and client.pending() == []


def test_context_manager_ends_cleanly_or_time_only_on_exception(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    with start(client) as activity:
        clock.advance(5)
    assert activity.is_ended and fake.completions == []
    with pytest.raises(RuntimeError, match="boom"), start(client, id="two") as second:
        clock.advance(5)
        raise RuntimeError("boom")
    assert second.is_ended
    client.flush()
    assert fake.active_seconds() == 10.0 and fake.completions == []
    with start(client, id="three") as third:
        third.end({"xp_earned": 1})
    assert len(fake.completions) == 1


@pytest.mark.parametrize(("course", "named"), [
    ({"subject": "Math", "grade": 9}, "subject 'Math' grade 9"),
    ({"code": "NOPE"}, "code 'NOPE'"),
])
def test_unknown_course_selector_is_rejected_at_start(
        client: Client, course: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError) as info:
        start(client, course=course)
    assert info.value.field == "course"
    assert info.value.code == "UNKNOWN_COURSE"
    assert info.value.message == f"No configured course matches {named}"
    assert client.activity.current is None and client.pending() == []


def test_ambiguous_course_selector_is_rejected(clock: FakeClock, fake: FakePlatform) -> None:
    from timeledger.config import Course, TimebackConfig

    twin = Course(subject="Math", grade=1, course_code="M", course_id="m", name="Math G1",
                  sensor="https://a.example.com", goals={}, total_lessons=None, total_xp=None)
    config = TimebackConfig(app_name="App", sensor="https://a.example.com", courses=(twin, twin),
                            env="production")
    with make_client(clock, fake, config=config) as client:
        with pytest.raises(ValidationError) as info:
            start(client, course={"code": "M"})
        assert info.value.field == "course"
        assert info.value.code == "AMBIGUOUS_COURSE_SELECTOR"
        assert "'M'" in info.value.message


def test_course_by_code_builds_the_code_url(client: Client, clock: FakeClock,
                                            fake: FakePlatform) -> None:
    activity = start(client, course={"code": "SCI-LAB"}, id="lab 1")
    activity.end({"xp_earned": 1})
    obj = fake.completions[0]["object"]
    assert obj["id"] == "https://quiz.example.com/activities/SCI-LAB/lab%201"
    assert obj["subject"] == "Science"
    assert client.activity_ref("fractions-1", "F", MATH).url == \
        "https://quiz.example.com/activities/Math/g3/fractions-1"


def test_heartbeat_ids_are_stable_by_run_and_window_start(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    from timeledger.caliper import stable_event_id

    activity = start(client)
    clock.advance(15)
    client.flush()
    assert list(fake.events) == [
        stable_event_id(activity.run_id, "2025-01-15T10:00:00.000Z")]
