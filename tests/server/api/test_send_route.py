"""POST /caliper/event is served by a plain route (api/ingest.py) ahead of the FastAPI one that
documents it: it checks what the FastAPI route would, in the same order, and is documented once."""

from __future__ import annotations

import uuid

import httpx

from tests.support.events import T0, heartbeat, unique_email, wrap
from tests.support.platform import PlatformProcess


def test_a_nul_in_the_query_is_refused_before_the_token_and_nothing_is_stored(
        platform: PlatformProcess) -> None:
    email = unique_email("nul-query")
    envelope = wrap(heartbeat(email, str(uuid.uuid4()), T0, 30))
    with platform.http() as client:
        reply = client.post("/caliper/event?note=a%00", json=envelope)
    assert reply.status_code == 400, reply.text
    assert reply.json()["imsx_error_details"] == [
        {"path": "note", "message": "Must not contain a NUL character"}]
    anonymous = httpx.post(f"{platform.base_url}/caliper/event?note=a%00", json=envelope)
    assert anonymous.status_code == 400, anonymous.text  # the app's check comes first
    assert platform.store.stored_events(email) == 0


def test_the_token_and_its_scope_are_checked(platform: PlatformProcess) -> None:
    envelope = wrap(heartbeat(unique_email("scope"), str(uuid.uuid4()), T0, 30))
    anonymous = httpx.post(f"{platform.base_url}/caliper/event", json=envelope)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="timeledger"'
    reader = platform.token(["reports:read"])
    refused = httpx.post(f"{platform.base_url}/caliper/event", json=envelope,
                         headers={"Authorization": f"Bearer {reader}"})
    assert refused.status_code == 403
    assert "insufficient_scope" in refused.headers["www-authenticate"]


def test_the_route_is_documented_once_with_its_body(platform: PlatformProcess) -> None:
    document = httpx.get(f"{platform.base_url}/openapi.json").json()
    operation = document["paths"]["/caliper/event"]
    assert set(operation) == {"get", "post"}
    body = operation["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["sensor", "sendTime", "dataVersion", "data"]
    assert [op["operationId"] for op in (operation["get"], operation["post"])].count(
        operation["post"]["operationId"]) == 1
