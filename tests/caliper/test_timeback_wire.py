"""The wire layer accepts every captured Timeback envelope and round-trips it without loss."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.support.shared import timeback_envelope_names, timeback_fixture
from timeledger.caliper import CaliperError, facts_of, parse_envelope
from timeledger.caliper.screen import screen_stored_text
from timeledger.caliper.timeback import dump_event

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast


@pytest.mark.parametrize("name", timeback_envelope_names() or ["<shared data absent>"])
def test_captured_envelope_is_accepted_and_round_trips(name: str) -> None:
    original = timeback_fixture(name)
    parsed = parse_envelope(json.dumps(original).encode())
    assert parsed.to_json() == original
    assert len(parsed.timeback) == len(original["data"])
    reserialized = {**original, "data": [dump_event(parsed.timeback[i])
                                         for i in range(len(original["data"]))]}
    assert reserialized == original
    again = parse_envelope(json.dumps(reserialized).encode())
    assert [dump_event(e) for e in again.timeback.values()] == original["data"]


def test_facts_read_run_course_and_time_split() -> None:
    parsed = parse_envelope(json.dumps(timeback_fixture("envelope-time-spent.json")).encode())
    facts = facts_of(parsed.timeback[0])
    assert facts.kind == "time"
    assert facts.run_id == "3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10"
    assert facts.course_id == "course-abc"
    assert facts.seconds == {"active": 290.5, "inactive": 9.5}
    assert facts.learner_email == "student@example.edu"
    assert facts.window_start is None


def test_extensions_run_id_wins_over_session() -> None:
    body = timeback_fixture("envelope-activity-completed.json")
    body["data"][0]["extensions"]["runId"] = "11111111-1111-4111-8111-111111111111"
    facts = facts_of(parse_envelope(json.dumps(body).encode()).timeback[0])
    assert facts.run_id == "11111111-1111-4111-8111-111111111111"
    assert (facts.xp_earned, facts.total_questions, facts.correct_questions) == (12, 10, 8)
    assert (facts.mastered_units, facts.attempt, facts.pct_complete) == (1, 1, 40)


def _broken(where: str, change: str, value: Any = None) -> CaliperError:
    """Parse the two-event fixture after one change at `where` (dotted keys into `data`, list
    indexes as numbers): `=` sets `value`, `del` deletes, `append` appends `value`."""
    body = copy.deepcopy(timeback_fixture("envelope-batch-two-events.json"))
    *parents, last = [int(key) if key.isdigit() else key for key in where.split(".")]
    target: Any = body["data"]
    for key in parents:
        target = target[key]
    if change == "=":
        target[last] = value
    elif change == "del":
        del target[last]
    else:
        target[last].append(value)
    with pytest.raises(CaliperError) as caught:
        parse_envelope(json.dumps(body).encode())
    return caught.value


@pytest.mark.parametrize(("where", "change", "value", "path"), [
    ("0.generated.items.1.value", "=", 11, "data[0].generated.items[1].value"),
    ("0.generated.items.0", "del", None, "data[0].generated.items"),
    ("0.generated.items.2", "del", None, "data[0].generated.items"),
    ("0.generated.items.0.value", "=", -1, "data[0].generated.items[0].value"),
    ("0.generated.items.0.value", "=", 2.5, "data[0].generated.items[0].value"),
    ("0.generated.items", "append", {"type": "bonus", "value": 1},
     "data[0].generated.items[4].type"),
    ("1.generated.items.0.value", "=", 86400.5, "data[1].generated.items[0].value"),
    ("1.generated.items.1.value", "=", -0.1, "data[1].generated.items[1].value"),
    ("1.generated.items.1.type", "=", "sleeping", "data[1].generated.items[1].type"),
    ("1.eventTime", "=", "2025-01-15T12:05:00+02:00", "data[1].eventTime"),
    ("1.eventTime", "=", "yesterday", "data[1].eventTime"),
    ("0.actor.email", "=", "not-an-email", "data[0].actor.email"),
    ("0.actor.email", "del", None, "data[0].actor.email"),
    ("0.object.subject", "=", "Alchemy", "data[0].object.subject"),
    ("0.generated.attempt", "=", 0, "data[0].generated.attempt"),
    ("0.generated.extensions.pctCompleteApp", "=", 101,
     "data[0].generated.extensions.pctCompleteApp"),
])
def test_profile_rule_breaks_name_the_path(where: str, change: str, value: Any,
                                           path: str) -> None:
    assert _broken(where, change, value).problems[0].path == path


def test_activity_event_without_profile_is_held_to_the_profile() -> None:
    body = timeback_fixture("envelope-minimal-completed.json")
    del body["data"][0]["profile"]
    with pytest.raises(CaliperError) as caught:
        parse_envelope(json.dumps(body).encode())
    assert caught.value.problems[0].path == "data[0].profile"


def _named_in_the_json(event: dict[str, Any]) -> dict[str, Any]:
    """What an event's facts name, read from its JSON by hand (docs/pipeline.md's rules)."""
    actor, activity = event["actor"], event["object"]
    course = activity.get("course")
    ext_course = (event.get("extensions") or {}).get("courseId")
    if isinstance(ext_course, str) and ext_course:
        course_id = ext_course
    elif course is not None:
        course_id = course.get("id") or course["name"]
    else:
        course_id = activity["subject"]
    return {"event_id": event["id"], "learner_email": actor["email"].strip().lower(),
            "actor_id": actor["id"], "actor_name": actor.get("name"),
            "activity_id": activity["id"],
            "activity_name": (activity.get("activity") or {}).get("name"),
            "subject": activity["subject"], "app_name": activity["app"]["name"],
            "course_id": course_id, "course_name": None if course is None else course["name"],
            "kind": "time" if event["type"] == "TimeSpentEvent" else "completion"}


@pytest.mark.parametrize("name", timeback_envelope_names() or ["<shared data absent>"])
def test_facts_name_what_the_json_names(name: str) -> None:
    """Facts are built by position (timeback._facts): each field must hold what its name says,
    on the full rules' path and on the screen's stored-text path alike."""
    original = timeback_fixture(name)
    parsed = parse_envelope(json.dumps(original).encode())
    assert parsed.timeback, "a Timeback fixture without Timeback events"
    for index, event in parsed.timeback.items():
        expected = _named_in_the_json(original["data"][index])
        full = facts_of(event)._asdict()
        assert {key: full[key] for key in expected} == expected
        screened = screen_stored_text(json.dumps(original["data"][index]))
        if screened is not None:  # None: a text the screen leaves to the full rules
            assert screened == facts_of(event)
