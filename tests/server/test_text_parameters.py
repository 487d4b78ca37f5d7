"""A NUL character in any path or query parameter is a 400 naming it, on every route and store
(PostgreSQL text cannot hold one, so it used to reach the store and answer 500 there)."""

from __future__ import annotations

import pytest

from support.platform import PlatformProcess


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
