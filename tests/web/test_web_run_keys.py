"""The adapter protocol takes any unique string as a runId, mapping it as the Python SDK does."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.shared import timeback_fixture
from tests.web.web_support import CONFIG, closing, offline_client
from timeledger import Client
from timeledger.caliper.builders import stable_event_id
from timeledger.testing import FakeClock, FakePlatform
from timeledger.web import WebAdapter
from timeledger.web.protocol import Reply

pytestmark = pytest.mark.unit

LEARNER = {"email": "student@example.edu", "id": "student-123"}
KEY = "assignment-row-981"


def run_uuid(key: str, sensor: str = CONFIG["sensor"]) -> str:
    """docs/web.md's rule, written out: uuid5(uuid5(NAMESPACE_URL, sensor), key)."""
    return str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, sensor), key))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with closing(offline_client(tmp_path / "outbox.sqlite3")) as opened:
        yield opened


def send(adapter: WebAdapter, route: str, body: dict[str, Any]) -> Reply:
    return adapter.handle(route, LEARNER, json.dumps(body).encode())  # type: ignore[arg-type]


def queued(client: Client) -> list[dict[str, Any]]:
    return [row.event() for row in client.pending()]


def test_a_string_run_id_is_sent_as_its_uuid5_with_the_string_kept(client: Client) -> None:
    adapter = WebAdapter(client)
    heartbeat = {**timeback_fixture("adapter-heartbeat-request.json"), "runId": KEY}
    submit = {**timeback_fixture("adapter-submit-request.json"), "runId": KEY}

    assert send(adapter, "heartbeat", heartbeat) == Reply(204)
    assert send(adapter, "heartbeat", heartbeat) == Reply(200, {"duplicate": True})
    assert send(adapter, "submit", submit) == Reply(204)

    run = run_uuid(KEY)
    events = queued(client)
    assert [(e["type"], e["session"], e["extensions"]["runId"], e["extensions"]["runKey"])
            for e in events] == [("TimeSpentEvent", f"urn:uuid:{run}", run, KEY),
                                 ("ActivityEvent", f"urn:uuid:{run}", run, KEY)]
    assert events[0]["id"] == stable_event_id(run, heartbeat["startedAt"])


def test_a_uuid_run_id_is_unchanged_and_adds_no_run_key(client: Client) -> None:
    body = timeback_fixture("adapter-submit-request.json")
    body["runId"] = body["runId"].upper()
    assert send(WebAdapter(client), "submit", body) == Reply(204)
    [event] = queued(client)
    assert event["session"] == "urn:uuid:3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10"
    assert "runKey" not in event["extensions"]


def test_the_adapter_and_the_python_sdk_name_the_same_run(client: Client) -> None:
    send(WebAdapter(client), "submit",
         {**timeback_fixture("adapter-submit-request.json"), "runId": KEY})
    [from_browser] = queued(client)
    fake = FakePlatform()
    sdk = Client(base_url="http://fake.test", client_id="app", client_secret="secret",
                 config=CONFIG, clock=FakeClock(), transport=fake, outbox=None,
                 rng=random.Random(7), environ={})
    try:
        sdk.activity.record(user=LEARNER, activity={"id": "fractions-1", "name": "Fractions 1",
                                                    "course": {"subject": "Math", "grade": 3}},
                            metrics={"xp_earned": 1}, run_id=KEY)
        sdk.flush()
    finally:
        sdk.close(timeout=0)
    [from_server] = fake.events.values()
    assert from_server["session"] == from_browser["session"] == f"urn:uuid:{run_uuid(KEY)}"


def test_a_course_with_its_own_sensor_maps_keys_under_that_sensor(tmp_path: Path) -> None:
    config = {**CONFIG, "courses": [{"subject": "Math", "grade": 3,
                                     "sensor": "https://math.example.com"}]}
    with closing(offline_client(tmp_path / "outbox.sqlite3", config=config)) as client:
        body = {**timeback_fixture("adapter-submit-request.json"), "runId": KEY}
        assert send(WebAdapter(client, config=config), "submit", body) == Reply(204)
        [event] = queued(client)
    assert event["session"] == f"urn:uuid:{run_uuid(KEY, 'https://math.example.com')}"
