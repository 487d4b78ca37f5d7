"""What a client sees between the append and the projection: jobs that wait, then complete;
`projected_through` and `consistent=true` on the query API; jobs visible to their client only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from tests.support.events import heartbeat, unique_email, wrap
from tests.support.platform import PlatformProcess

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


def _client(platform: PlatformProcess, name: str) -> httpx.Client:
    client_id, secret = platform.create_client(name)
    token = httpx.post(f"{platform.base_url}/oauth2/token",
                       data={"grant_type": "client_credentials"},
                       auth=(client_id, secret)).json()["access_token"]
    return httpx.Client(base_url=platform.base_url, timeout=30,
                        headers={"Authorization": f"Bearer {token}"})


def test_a_job_waits_for_the_projector_and_reads_wait_until_it_has_passed(
        make_platform: Callable[..., PlatformProcess]) -> None:
    platform = make_platform(extra_args=["--projectors", "0", "--max-consistent-wait", "0.5"])
    email, run = unique_email("jobs"), str(uuid.uuid4())
    window = heartbeat(email, run, T0, 12)
    with platform.http() as http:
        sent = http.post("/caliper/event", json=wrap(window, heartbeat(email, run, T0, 12)))
        assert sent.status_code == 200
        job_id = sent.json()["jobId"]
        waiting = http.get(f"/jobs/{job_id}/status", params={"wait": 0.3}).json()["job"]
        assert (waiting["state"], waiting["returnValue"]) == ("waiting", None)
        through = http.get("/api/v1/projection").json()["projected_through"]
        assert through["caught_up"] is False
        refused = http.get("/api/v1/runs", params={"learner": email, "consistent": "true"})
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"

        platform.cli("project", "--until-caught-up")

        done = http.get(f"/jobs/{job_id}/status", params={"wait": 30}).json()["job"]
        assert done["state"] == "completed" and done["processedOn"]
        assert [r["status"] for r in done["returnValue"]["results"]] == [
            "stored", "duplicate_window"]  # the second is the same window under a new id
        runs = http.get("/api/v1/runs", params={"learner": email, "consistent": "true"}).json()
        assert [(r["run_id"], r["heartbeats"]) for r in runs["runs"]] == [(run, 1)]
        assert runs["projected_through"]["caught_up"] is True
        assert runs["projected_through"]["event_time"] == "2025-03-03T09:00:12.000Z"


def test_a_long_poll_returns_as_soon_as_the_running_projector_has_passed_the_job(
        platform: PlatformProcess) -> None:
    email, run = unique_email("poll"), str(uuid.uuid4())
    with platform.http() as http:
        job_id = http.post("/caliper/event", json=wrap(
            heartbeat(email, run, T0, 5))).json()["jobId"]
        job = http.get(f"/jobs/{job_id}/status", params={"wait": 30}).json()["job"]
        assert job["state"] == "completed"
        assert [r["status"] for r in job["returnValue"]["results"]] == ["stored"]
        too_long = http.get(f"/jobs/{job_id}/status", params={"wait": 31})
        assert too_long.status_code == 400
        assert too_long.json()["imsx_error_details"][0]["path"] == "wait"


def test_another_clients_job_is_not_found(platform: PlatformProcess) -> None:
    email = unique_email("owner")
    with _client(platform, "owner") as owner, _client(platform, "stranger") as stranger:
        job_id = owner.post("/caliper/event", json=wrap(heartbeat(
            email, str(uuid.uuid4()), T0 + timedelta(hours=1), 5))).json()["jobId"]
        assert owner.get(f"/jobs/{job_id}/status").status_code == 200
        hidden = stranger.get(f"/jobs/{job_id}/status")
        assert hidden.status_code == 404
        assert hidden.json() == stranger.get(f"/jobs/{uuid.uuid4()}/status").json() | {
            "imsx_description": f"No job {job_id!r}"}
