"""A NUL character in any path or query parameter is a 400 naming it, on every route and store
(PostgreSQL text cannot hold one, so it used to reach the store and answer 500 there); NUL in a
token form is an unknown client, and in an event's text a 400 naming the property."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.support.events import SENSOR, T0, heartbeat, unique_email, wrap
from tests.support.platform import PlatformProcess
from timeledger.caliper.builders import ActivityRef


@pytest.mark.parametrize(("path", "name"), [
    ("/caliper/events?learner=a%00", "learner"),
    ("/caliper/events?type=TimeSpentEvent%00", "type"),
    ("/caliper/events/urn:uuid:a%00b", "event_id"),
    ("/jobs/a%00b/status", "job_id"),
    ("/api/v1/runs/a%00", "run_id"),
    ("/api/v1/flags?course=math%00", "course"),
    ("/learners/a%00", "learner"),  # a dashboard page
    ("/data/events?learner=a%00", "learner"),  # the dashboard's feed
])
def test_a_nul_character_in_a_parameter_is_a_400_naming_it(platform: PlatformProcess, path: str,
                                                           name: str) -> None:
    with platform.http() as client:
        reply = client.get(path)
    assert reply.status_code == 400, reply.text
    assert reply.json()["imsx_error_details"] == [
        {"path": name, "message": "Must not contain a NUL character"}]


@pytest.mark.backends("pg")
def test_a_nul_character_in_the_token_form_is_an_unknown_client(platform: PlatformProcess,
                                                                ) -> None:
    reply = httpx.post(f"{platform.base_url}/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "a\x00", "client_secret": "x"})
    assert (reply.status_code, reply.json()) == (401, {"error": "invalid_client"})


def test_an_event_with_a_nul_character_in_its_text_is_refused(
        make_platform: Callable[..., PlatformProcess]) -> None:
    platform = make_platform()  # of its own: were ingest to store it, no projector shares it
    ref = ActivityRef(url=f"{SENSOR}/activities/nul", name="Quiz\x00", subject="Math",
                      app_name="App", course_id="course-abc", course_name="Math G3")
    envelope = wrap(heartbeat(unique_email("nul"), str(uuid.uuid4()), T0, 30, ref=ref))
    with platform.http() as client:
        for route in ("/caliper/event/validate", "/caliper/event"):
            reply = client.post(route, json=envelope)
            assert reply.status_code == 400, (route, reply.text)
            assert reply.json()["imsx_error_details"][0]["path"] == "data[0].object.activity.name"
