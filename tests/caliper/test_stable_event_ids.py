"""A stable event id is uuid5(NAMESPACE_URL, the parts joined by `|`), written out by hand for
speed: it must stay exactly that, or resends after an upgrade would get new ids. An event's
generated collection takes an id derived from the event's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    completed_event,
    stable_event_id,
    time_spent_event,
)
from timeledger.caliper.metrics import Metrics

pytestmark = pytest.mark.unit


@given(st.lists(st.text(max_size=80), min_size=1, max_size=4))
def test_a_stable_event_id_is_the_uuid5_of_its_parts(parts: list[str]) -> None:
    expected = uuid.uuid5(uuid.NAMESPACE_URL, "|".join(parts))
    assert stable_event_id(*parts) == f"urn:uuid:{expected}"
    assert uuid.UUID(stable_event_id(*parts).removeprefix("urn:uuid:")).version == 5



def test_an_events_generated_collection_takes_an_id_derived_from_the_events() -> None:
    """The same heartbeat or completion built twice under one event id is the same event, byte
    for byte (a resend is a duplicate, never a conflict); two events never share a collection."""
    actor = Learner("ann@example.edu", "ann").actor("https://sis.example")
    ref = ActivityRef(url="https://app.example/activities/q1", name="Quiz 1", subject="Math",
                      app_name="App", course_id="math", course_name="Math")
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def beat(event_id: str | None) -> dict[str, Any]:
        return time_spent_event(actor=actor, activity=ref, run_id=str(uuid.UUID(int=7)),
                                started_at=start, ended_at=start + timedelta(seconds=15),
                                active_ms=15_000, inactive_ms=0, event_id=event_id)

    def done(event_id: str | None) -> dict[str, Any]:
        return completed_event(actor=actor, activity=ref, run_id=str(uuid.UUID(int=7)),
                               ended_at=start, metrics=Metrics(xp_earned=1), event_id=event_id)

    for build in (beat, done):
        fixed = stable_event_id("run", "window")
        assert build(fixed) == build(fixed)
        assert build(fixed)["generated"]["id"] == stable_event_id(fixed, "generated")
        random_ids = [build(None) for _ in range(3)]
        assert len({event["id"] for event in random_ids}) == 3
        assert len({event["generated"]["id"] for event in random_ids}) == 3
        for event in random_ids:
            assert event["generated"]["id"] == stable_event_id(event["id"], "generated")
            assert event["generated"]["id"] != event["id"]


@given(st.one_of(st.integers(min_value=0, max_value=86_400_000),
                 st.floats(min_value=0, max_value=86_400_000, allow_nan=False)))
def test_a_windows_seconds_are_its_milliseconds_rounded_to_three_decimals(ms: float) -> None:
    actor = Learner("ann@example.edu").actor("https://sis.example")
    ref = ActivityRef(url="https://app.example/activities/q1", name="Quiz 1", subject="Math",
                      app_name="App", course_id="math", course_name="Math")
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    event = time_spent_event(actor=actor, activity=ref, run_id=None, started_at=start,
                             ended_at=start + timedelta(days=1), active_ms=ms, inactive_ms=ms)
    values = [item["value"] for item in event["generated"]["items"]]
    assert values == ([round(ms / 1000, 3)] * (2 if ms > 0 else 1))
    assert all(type(value) is float for value in values)
