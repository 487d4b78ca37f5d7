"""The stateful story with the app's own runId ("assignment-row-981") from the Python SDK to a real
platform: Monday's session, Wednesday's, the backend's record(); the run found by either form."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.sdk.conftest import CONFIG, MATH
from tests.support.platform import PlatformProcess
from timeledger.sdk import Client
from timeledger.testing import FakeClock

KEY = "assignment-row-981"
MONDAY = datetime(2025, 1, 13, 15, 0, tzinfo=UTC)
WEDNESDAY = datetime(2025, 1, 15, 16, 0, tzinfo=UTC)
LESSON: dict[str, Any] = {"id": "long-division", "name": "Long division", "course": MATH}


def client_for(platform: PlatformProcess, clock: FakeClock, sensor: str) -> Client:
    client_id, secret = platform.create_client(f"story-{uuid.uuid4().hex[:6]}")
    return Client(platform.base_url, client_id=client_id, client_secret=secret,
                  config=CONFIG, sensor=sensor, clock=clock, outbox=None, environ={},
                  background=False)


def session(client: Client, clock: FakeClock, user: dict[str, str], seconds: int) -> str:
    """One session of `seconds` (15 s heartbeats), ended without metrics; returns its run id."""
    activity = client.activity.start(**LESSON, user=user, run_id=KEY)
    for _ in range(seconds // 15):
        clock.advance(15)
    activity.end()
    client.flush()
    return activity.run_id


def test_monday_and_wednesday_with_the_apps_own_run_id(
        make_platform: Callable[..., PlatformProcess]) -> None:
    platform = make_platform()
    sensor = "https://lessons.example.com"
    user = {"email": f"story-{uuid.uuid4().hex[:8]}@example.edu", "id": "student-981"}
    clock = FakeClock(start=MONDAY)
    client = client_for(platform, clock, sensor)
    try:
        monday_run = session(client, clock, user, 120)
        clock.advance((WEDNESDAY - clock.now()).total_seconds())
        wednesday_run = session(client, clock, user, 60)
        # the backend records the completion, naming the run by the same string
        receipt = client.activity.record(user=user, activity=LESSON, run_id=KEY,
                                         metrics={"xp_earned": 3, "total_questions": 10,
                                                  "correct_questions": 9})
        client.flush()
    finally:
        client.close(timeout=5)

    run_uuid = str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, sensor), KEY))
    assert monday_run == wednesday_run == receipt.run_id == run_uuid
    platform.settle()
    by_key = platform.get(f"/api/v1/runs/{KEY}")
    by_uuid = platform.get(f"/api/v1/runs/{run_uuid}")
    by_urn = platform.get(f"/api/v1/runs/urn:uuid:{run_uuid.upper()}")
    assert by_key == by_uuid == by_urn
    assert (by_key["run_id"], by_key["run_key"]) == (run_uuid, KEY)
    assert by_key["active_seconds"] == 180
    assert by_key["heartbeats"] == 12
    assert [d["date"] for d in by_key["session_days"]] == ["2025-01-13", "2025-01-15"]
    assert by_key["completed"] is True and by_key["completion"]["xp"] == 3
    [listed] = platform.get("/api/v1/runs", learner=user["email"])["runs"]
    assert (listed["run_id"], listed["run_key"]) == (run_uuid, KEY)
    # the events carried the UUID as their session and the string as extensions.runKey
    page = platform.get("/caliper/events", learner=user["email"], limit=100)
    stored = [row["event"] for row in page["events"]]
    assert {(e["session"], e["extensions"]["runKey"]) for e in stored} == {
        (f"urn:uuid:{run_uuid}", KEY)}
    assert len(stored) == 13
    # the dashboard's run page, by either form
    with httpx.Client(base_url=platform.base_url, timeout=30) as browser:
        for form in (KEY, run_uuid):
            page_html = browser.get(f"/runs/{form}")
            assert page_html.status_code == 200
            assert f'data-run="{run_uuid}"' in page_html.text
            assert f'<code id="run-key">{KEY}</code>' in page_html.text
        assert browser.get("/runs/assignment-row-982").status_code == 404


def test_two_apps_using_one_key_have_two_runs_found_by_their_uuids(
        make_platform: Callable[..., PlatformProcess]) -> None:
    platform = make_platform()
    user = {"email": f"story-{uuid.uuid4().hex[:8]}@example.edu"}
    runs: list[str] = []
    for sensor in ("https://lessons.example.com", "https://quizzes.example.com"):
        client = client_for(platform, FakeClock(start=MONDAY), sensor)
        try:
            runs.append(client.activity.record(user=user, activity=LESSON, run_id=KEY,
                                               metrics={"xp_earned": 1}).run_id)
            client.flush()
        finally:
            client.close(timeout=5)
    platform.settle()
    assert len(set(runs)) == 2
    for run_id in runs:
        assert platform.get(f"/api/v1/runs/{run_id}")["run_key"] == KEY
    with platform.http() as api:
        reply = api.get(f"/api/v1/runs/{KEY}", params={"consistent": "true"})
    assert reply.status_code == 400
    body: dict[str, Any] = reply.json()
    assert "run_id" in str(body) and "by its UUID" in str(body)
    flags_reply = platform.get("/api/v1/flags", run="assignment-row-982")
    assert flags_reply["flags"] == []
