"""Any unique string as a runId: a UUIDv5 under the sensor on the wire, the string in runKey."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.sdk.conftest import CONFIG, MATH, USER
from timeledger.caliper.builders import envelope
from timeledger.caliper.envelope import check_envelope
from timeledger.sdk import Client, ValidationError
from timeledger.testing import FakeClock, FakePlatform

ACTIVITY = {"id": "fractions-1", "name": "Fractions 1", "course": MATH}


def expected_uuid(key: str, sensor: str = CONFIG["sensor"]) -> str:
    """docs/sdk.md's rule, written out: uuid5(uuid5(NAMESPACE_URL, sensor), key)."""
    return str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, sensor), key))


def sent(fake: FakePlatform) -> list[dict[str, Any]]:
    return list(fake.events.values())


def test_a_string_run_id_goes_out_as_its_uuid5_with_the_string_in_run_key(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    activity = client.activity.start(id="fractions-1", name="Fractions 1", course=MATH,
                                     user=USER, run_id="assignment-row-981")
    clock.advance(20)
    receipt = activity.end({"xp_earned": 3})
    client.flush()

    run = expected_uuid("assignment-row-981")
    assert (activity.run_id, activity.run_key) == (run, "assignment-row-981")
    assert (receipt.run_id, receipt.run_key) == (run, "assignment-row-981")
    events = sent(fake)
    assert len(events) == 3  # two heartbeat windows and the completion
    for event in events:
        assert event["session"] == f"urn:uuid:{run}"
        assert event["extensions"]["runId"] == run
        assert event["extensions"]["runKey"] == "assignment-row-981"
    # what the SDK sends passes the platform's own wire rules
    parsed = check_envelope(envelope(CONFIG["sensor"], events, datetime.now(UTC)))
    assert len(parsed.timeback) == 3


def test_the_same_string_is_the_same_run_on_monday_and_wednesday(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    monday = client.activity.start(id="fractions-1", name="Fractions 1", course=MATH,
                                   user=USER, run_id="assignment-row-981")
    clock.advance(10)
    monday.end()  # no metrics: the run stays open
    clock.advance(2 * 86_400)
    wednesday = client.activity.start(id="fractions-1", name="Fractions 1", course=MATH,
                                      user=USER, run_id="assignment-row-981")
    clock.advance(10)
    wednesday.end({"xp_earned": 2})
    client.flush()

    assert monday.run_id == wednesday.run_id == expected_uuid("assignment-row-981")
    assert {event["session"] for event in sent(fake)} == {f"urn:uuid:{monday.run_id}"}


def test_another_sensor_gives_the_same_string_another_uuid(
        clock: FakeClock, fake: FakePlatform) -> None:
    from tests.sdk.conftest import make_client

    client = make_client(clock, fake, sensor="https://other-app.example.com")
    try:
        activity = client.activity.start(id="fractions-1", name="Fractions 1", course=MATH,
                                         user=USER, run_id="assignment-row-981", time=False)
        assert activity.run_id == expected_uuid("assignment-row-981",
                                                "https://other-app.example.com")
        assert activity.run_id != expected_uuid("assignment-row-981")
        activity.end()
    finally:
        client.close(timeout=0)


@pytest.mark.parametrize("run_id", [
    "3F0C6A52-9B1E-4C1E-8D3A-5B7F2F1E9A10", "urn:uuid:3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10",
    uuid.UUID("3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10")])
def test_a_uuid_run_id_is_unchanged_and_adds_no_run_key(
        client: Client, clock: FakeClock, fake: FakePlatform, run_id: Any) -> None:
    client.activity.record(user=USER, activity=ACTIVITY, metrics={"xp_earned": 1},
                           run_id=run_id)
    client.flush()
    [event] = sent(fake)
    assert event["session"] == "urn:uuid:3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10"
    assert event["extensions"] == {"courseId": "math-3",
                                   "runId": "3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10"}


def test_record_takes_a_string_run_id(client: Client, fake: FakePlatform) -> None:
    receipt = client.activity.record(
        user=USER, activity=ACTIVITY, metrics={"xp_earned": 4}, run_id="assignment-row-981",
        time={"started_at": "2025-01-15T10:00:00Z", "ended_at": "2025-01-15T10:05:00Z",
              "active_ms": 300_000})
    client.flush()
    assert (receipt.run_id, receipt.run_key) == (expected_uuid("assignment-row-981"),
                                                 "assignment-row-981")
    assert [(e["type"], e["session"], e["extensions"]["runKey"]) for e in sent(fake)] == [
        ("TimeSpentEvent", f"urn:uuid:{receipt.run_id}", "assignment-row-981"),
        ("ActivityEvent", f"urn:uuid:{receipt.run_id}", "assignment-row-981")]


@pytest.mark.parametrize(("run_id", "message"), [
    ("", "Expected a UUID or a non-blank string"),
    ("   ", "Expected a UUID or a non-blank string"),
    ("x" * 257, "Expected at most 256 characters; got 257"),
    ("row\x00981", "Expected printable characters only (no control characters such as NUL)"),
    ("row\n981", "Expected printable characters only (no control characters such as NUL)"),
    (981, "Expected a UUID or a string (the app's own run id)"),
])
def test_run_ids_past_the_bounds_are_refused_naming_run_id(
        client: Client, fake: FakePlatform, run_id: Any, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        client.activity.start(id="fractions-1", name="Fractions 1", course=MATH, user=USER,
                              run_id=run_id)
    assert (info.value.field, info.value.message) == ("run_id", message)
    with pytest.raises(ValidationError) as info:
        client.activity.record(user=USER, activity=ACTIVITY, metrics={"xp_earned": 1},
                               run_id=run_id)
    assert (info.value.field, info.value.message) == ("run_id", message)
    assert client.activity.current is None and client.pending() == []


def test_a_run_id_at_the_bound_is_sent(client: Client, fake: FakePlatform) -> None:
    key = "é" * 255 + "~"
    receipt = client.activity.record(user=USER, activity=ACTIVITY, metrics={"xp_earned": 1},
                                     run_id=key)
    client.flush()
    [event] = sent(fake)
    assert event["extensions"]["runKey"] == key and receipt.run_key == key
    parsed = check_envelope(envelope(CONFIG["sensor"], [event], datetime.now(UTC)))
    assert len(parsed.timeback) == 1
