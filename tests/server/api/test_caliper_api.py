"""The Caliper API over real HTTP: fixtures accepted, bad input refused by path, nothing stored."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.events import T0, heartbeat, unique_email, wrap
from tests.support.platform import PlatformProcess
from tests.support.shared import timeback_envelope_names, timeback_fixture
from timeledger.caliper.bounds import MAX_EMAIL_CHARS, MAX_IRI_CHARS, MAX_ITEM_ID_CHARS
from timeledger.caliper.core.vocabulary import CALIPER_CONTEXT


def _fresh_ids(envelope: dict[str, Any]) -> dict[str, Any]:
    """The same envelope under new event ids (the shared platform outlives one test)."""
    copied = copy.deepcopy(envelope)
    for event in copied["data"]:
        event["id"] = f"urn:uuid:{uuid.uuid4()}"
    return copied


def _job_results(platform: PlatformProcess, reply: httpx.Response) -> list[dict[str, Any]]:
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "success"
    job = platform.get(f"/jobs/{body['jobId']}/status")["job"]
    assert job["state"] == "completed"
    results: list[dict[str, Any]] = job["returnValue"]["results"]
    return results


@pytest.mark.parametrize("name", timeback_envelope_names() or ["<shared data absent>"])
def test_captured_envelope_is_stored_as_sent(platform: PlatformProcess, name: str) -> None:
    envelope = _fresh_ids(timeback_fixture(name))
    results = _job_results(platform, platform.send(envelope))
    assert [r["externalId"] for r in results] == [e["id"] for e in envelope["data"]]
    assert {r["status"] for r in results} <= {"stored", "duplicate_window",
                                               "duplicate_completion"}
    for event in envelope["data"]:
        stored = platform.get(f"/caliper/events/{event['id']}")
        assert stored["event"] == event
        assert stored["type"] == event["type"]


def test_same_envelope_three_times_is_stored_once(platform: PlatformProcess) -> None:
    email = unique_email()
    envelope = wrap(heartbeat(email, str(uuid.uuid4()), T0, 15))
    statuses = [_job_results(platform, platform.send(envelope))[0]["status"] for _ in range(3)]
    assert statuses == ["stored", "duplicate", "duplicate"]
    listed = platform.get("/caliper/events", learner=email)["events"]
    assert len(listed) == 1


def test_different_body_under_existing_id_is_a_conflict(platform: PlatformProcess) -> None:
    email = unique_email()
    event = heartbeat(email, str(uuid.uuid4()), T0, 15)
    _job_results(platform, platform.send(wrap(event)))
    changed = copy.deepcopy(event)
    changed["generated"]["items"][0]["value"] = 14
    results = _job_results(platform, platform.send(wrap(changed)))
    assert results[0]["status"] == "conflict"
    assert platform.get(f"/caliper/events/{event['id']}")["event"] == event


# --- bad input: each gets a 4xx naming the path, and nothing is stored --------------------------

def _event(email: str) -> dict[str, Any]:
    return heartbeat(email, str(uuid.uuid4()), T0, 12, 3)


def _completion_items(email: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    event = copy.deepcopy(timeback_fixture("envelope-activity-completed.json")["data"][0])
    event["id"] = f"urn:uuid:{uuid.uuid4()}"
    event["actor"]["email"] = email
    event["generated"]["items"] = items
    return wrap(event)


def _mutated(change: Callable[[dict[str, Any]], None]) -> Callable[[str], dict[str, Any]]:
    def build(email: str) -> dict[str, Any]:
        envelope = wrap(_event(email))
        change(envelope)
        return envelope

    return build


def _with_entity(entity_id: str) -> Callable[[str], dict[str, Any]]:
    """A heartbeat and a core entity under `entity_id` in one envelope."""
    def build(email: str) -> dict[str, Any]:
        return wrap(_event(email), {"@context": CALIPER_CONTEXT, "id": entity_id,
                                    "type": "Person"})

    return build


# Past each bound of a stored text (caliper/bounds.py, docs/bounds.md): the store's column would
# refuse it on PostgreSQL, which must never be a 500.
LONG_IRI = "https://e.example.com/" + "z" * (MAX_IRI_CHARS - 21)
LONG_ITEM_ID = "https://e.example.com/" + "z" * (MAX_ITEM_ID_CHARS - 21)
LONG_EMAIL = "a" * (MAX_EMAIL_CHARS - 11) + "@example.edu"
assert (len(LONG_IRI), len(LONG_ITEM_ID), len(LONG_EMAIL)) == (
    MAX_IRI_CHARS + 1, MAX_ITEM_ID_CHARS + 1, MAX_EMAIL_CHARS + 1)

BAD_BODIES: dict[str, tuple[Callable[[str], Any], int, str]] = {
    "item id past its bound": (_with_entity(LONG_ITEM_ID), 400, "data[1].id"),
    "sensor past the IRI bound": (_mutated(lambda env: env.update(sensor=LONG_IRI)), 400,
                                  "sensor"),
    "actor id past the IRI bound": (
        _mutated(lambda env: env["data"][0]["actor"].update(id=LONG_IRI)), 400,
        "data[0].actor.id"),
    "email past its bound": (
        _mutated(lambda env: env["data"][0]["actor"].update(email=LONG_EMAIL)), 400,
        "data[0].actor.email"),
    "malformed json": (lambda e: b'{"sensor": ', 400, ""),
    "array body": (lambda e: [wrap(_event(e))], 400, ""),
    "scalar body": (lambda e: 42, 400, ""),
    "missing data": (_mutated(lambda env: env.pop("data")), 400, "data"),
    "missing sensor": (_mutated(lambda env: env.pop("sensor")), 400, "sensor"),
    "extra envelope key": (_mutated(lambda env: env.update(extra=1)), 400, "extra"),
    "empty data": (_mutated(lambda env: env.update(data=[])), 400, "data"),
    "unknown dataVersion": (
        _mutated(lambda env: env.update(dataVersion="http://purl.imsglobal.org/ctx/caliper/v1p1")),
        422, "dataVersion"),
    "negative active": (
        _mutated(lambda env: env["data"][0]["generated"]["items"][0].update(value=-5)),
        400, "data[0].generated.items[0].value"),
    "over 86400 inactive": (
        _mutated(lambda env: env["data"][0]["generated"]["items"][1].update(value=90000)),
        400, "data[0].generated.items[1].value"),
    "unknown item type": (
        _mutated(lambda env: env["data"][0]["generated"]["items"][1].update(type="idle")),
        400, "data[0].generated.items[1].type"),
    "invalid urn:uuid": (
        _mutated(lambda env: env["data"][0].update(id="urn:uuid:not-a-uuid")), 400, "data[0].id"),
    "non-UTC time": (
        _mutated(lambda env: env["data"][0].update(eventTime="2025-01-13T10:00:15+01:00")),
        400, "data[0].eventTime"),
    "unparsable time": (
        _mutated(lambda env: env["data"][0].update(eventTime="13/01/2025 10:00")),
        400, "data[0].eventTime"),
    "total without correct": (
        lambda e: _completion_items(e, [{"type": "xpEarned", "value": 3},
                                        {"type": "totalQuestions", "value": 4}]),
        400, "data[0].generated.items"),
    "correct without total": (
        lambda e: _completion_items(e, [{"type": "xpEarned", "value": 3},
                                        {"type": "correctQuestions", "value": 4}]),
        400, "data[0].generated.items"),
    "correct over total": (
        lambda e: _completion_items(e, [{"type": "xpEarned", "value": 3},
                                        {"type": "totalQuestions", "value": 4},
                                        {"type": "correctQuestions", "value": 5}]),
        400, "data[0].generated.items[2].value"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_input_is_refused_by_path_and_nothing_stored(platform: PlatformProcess,
                                                         case: str) -> None:
    build, status, path = BAD_BODIES[case]
    email = unique_email("bad")
    body = build(email)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = platform.send(raw)
    assert reply.status_code == status, reply.text
    error = reply.json()
    assert error["imsx_codeMajor"] == "failure"
    assert error["imsx_error_details"][0]["path"] == path
    assert error["imsx_description"]
    assert platform.get("/caliper/events", learner=email)["events"] == []


def test_texts_at_their_bounds_are_stored_on_either_backend(platform: PlatformProcess) -> None:
    email = LONG_EMAIL[1:]
    event = _event(email)
    event["actor"]["id"] = LONG_IRI[:-1]
    envelope = _with_entity(LONG_ITEM_ID[:-1])(email)
    envelope["data"][0] = event
    envelope["sensor"] = LONG_IRI[:-1]
    results = _job_results(platform, platform.send(envelope))
    assert [r["status"] for r in results] == ["stored", "stored"]
    stored = platform.get(f"/caliper/events/{quote(LONG_ITEM_ID[:-1], safe='')}")
    assert stored["event"]["id"] == LONG_ITEM_ID[:-1]
    assert platform.get("/caliper/events", learner=email)["events"][0]["event"] == event


def test_one_bad_event_rejects_the_whole_envelope(platform: PlatformProcess) -> None:
    email = unique_email("mixed")
    good, bad = _event(email), _event(email)
    bad["generated"]["items"][0]["value"] = -1
    reply = platform.send(wrap(good, bad))
    assert reply.status_code == 400
    assert reply.json()["imsx_error_details"][0]["path"] == "data[1].generated.items[0].value"
    assert platform.get("/caliper/events", learner=email)["events"] == []


def test_wrong_content_type_is_415(platform: PlatformProcess) -> None:
    email = unique_email()
    reply = platform.send(json.dumps(wrap(_event(email))).encode(),
                          headers={"Content-Type": "text/plain"})
    assert reply.status_code == 415
    assert platform.get("/caliper/events", learner=email)["events"] == []


def test_body_over_limit_is_413_and_nothing_stored(
        make_platform: Callable[..., PlatformProcess]) -> None:
    small = make_platform(extra_args=["--max-body-bytes", "3000"])
    email = unique_email()
    too_big = json.dumps(wrap(*[_event(email) for _ in range(3)])).encode()
    assert len(too_big) > 3000
    reply = small.send(too_big)
    assert reply.status_code == 413
    assert "3000" in reply.json()["imsx_description"]
    fits = json.dumps(wrap(*[_event(email) for _ in range(2)])).encode()
    assert len(fits) <= 3000
    assert small.send(fits).status_code == 200
    assert len(small.get("/caliper/events", learner=email)["events"]) == 2


def test_too_many_events_is_refused_naming_data(
        make_platform: Callable[..., PlatformProcess]) -> None:
    limited = make_platform(extra_args=["--max-events", "2"])
    email = unique_email()
    reply = limited.send(wrap(*[_event(email) for _ in range(3)]))
    assert reply.status_code == 413
    assert reply.json()["imsx_error_details"][0]["path"] == "data"
    assert limited.get("/caliper/events", learner=email)["events"] == []


def test_validate_stores_nothing(platform: PlatformProcess) -> None:
    email = unique_email()
    with platform.http() as client:
        reply = client.post("/caliper/event/validate", json=wrap(_event(email)))
        assert reply.status_code == 200
        assert reply.json()["valid"] is True
        bad = wrap(_event(email))
        bad["data"][0]["eventTime"] = "nope"
        refused = client.post("/caliper/event/validate", json=bad)
    assert refused.status_code == 400
    assert refused.json()["imsx_error_details"][0]["path"] == "data[0].eventTime"
    assert platform.get("/caliper/events", learner=email)["events"] == []


def test_endpoint_config_payload(platform: PlatformProcess) -> None:
    config = httpx.get(f"{platform.base_url}/caliper/event").json()
    assert config["caliper_supported_versions"] == ["http://purl.imsglobal.org/ctx/caliper/v1p2"]
    assert config["caliper_maximum_payload_size"] == 1024 * 1024


def test_event_list_filters_and_pages(platform: PlatformProcess) -> None:
    email = unique_email()
    run = str(uuid.uuid4())
    from datetime import timedelta

    sent = [heartbeat(email, run, T0 + timedelta(minutes=i), 15) for i in range(5)]
    assert platform.send(wrap(*sent)).status_code == 200
    first = platform.get("/caliper/events", learner=email, limit=2)
    assert [e["eventId"] for e in first["events"]] == [sent[4]["id"], sent[3]["id"]]
    second = platform.get("/caliper/events", learner=email, limit=2, before=first["next"])
    assert [e["eventId"] for e in second["events"]] == [sent[2]["id"], sent[1]["id"]]
    windowed = platform.get("/caliper/events", learner=email, type="TimeSpentEvent",
                            **{"from": "2025-01-13T10:01:00Z", "to": "2025-01-13T10:03:00Z"})
    # eventTime is the window's end: only the windows starting 10:01 and 10:02 end in range.
    assert [e["eventId"] for e in windowed["events"]] == [sent[2]["id"], sent[1]["id"]]
    assert platform.get("/caliper/events", learner=email, type="ActivityEvent")["events"] == []


def test_unknown_event_and_job_are_404(platform: PlatformProcess) -> None:
    with platform.http() as client:
        assert client.get(f"/caliper/events/urn:uuid:{uuid.uuid4()}").status_code == 404
        assert client.get("/jobs/nope/status").status_code == 404


def test_openapi_document_lists_the_caliper_routes(platform: PlatformProcess) -> None:
    doc = httpx.get(f"{platform.base_url}/openapi.json").json()
    for path in ("/oauth2/token", "/caliper/event", "/caliper/event/validate", "/caliper/events",
                 "/caliper/events/{event_id}", "/jobs/{job_id}/status"):
        assert path in doc["paths"], path
