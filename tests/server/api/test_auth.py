"""OAuth2 client credentials and scopes, over real HTTP, with clients made by the CLI."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from tests.support.events import T0, heartbeat, unique_email, wrap
from tests.support.platform import PlatformProcess
from tests.support.token_reads import loop_read_backends
from timeledger.server.store.database import create_engine
from timeledger.server.store.schema import events


def _token(platform: PlatformProcess, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{platform.base_url}/oauth2/token", timeout=10, **kwargs)  # type: ignore[arg-type]


def test_token_with_basic_auth_like_the_captured_request(platform: PlatformProcess) -> None:
    client_id, secret = platform.create_client("basic")
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    reply = _token(platform, content=b"grant_type=client_credentials",
                   headers={"Authorization": f"Basic {basic}",
                            "Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["token_type"] == "Bearer"
    assert 3500 <= body["expires_in"] <= 3600
    assert body["access_token"]


def test_token_with_form_credentials(platform: PlatformProcess) -> None:
    client_id, secret = platform.create_client("form")
    reply = _token(platform, data={"grant_type": "client_credentials", "client_id": client_id,
                                   "client_secret": secret})
    assert reply.status_code == 200


def test_bad_credentials_are_invalid_client(platform: PlatformProcess) -> None:
    client_id, _secret = platform.create_client("wrong")
    reply = _token(platform, data={"grant_type": "client_credentials"},
                   auth=(client_id, "not-the-secret"))
    assert reply.status_code == 401
    assert reply.json() == {"error": "invalid_client"}
    assert _token(platform, data={"grant_type": "client_credentials"}).status_code == 401
    assert _token(platform, data={"grant_type": "password"}).status_code == 400


def _bearer(platform: PlatformProcess, scopes: list[str]) -> dict[str, str]:
    client_id, secret = platform.create_client("scoped", scopes)
    token = _token(platform, data={"grant_type": "client_credentials"},
                   auth=(client_id, secret)).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_scopes_are_enforced(platform: PlatformProcess) -> None:
    writer = _bearer(platform, ["events:write"])
    reader = _bearer(platform, ["reports:read"])
    email = unique_email()
    envelope = wrap(heartbeat(email, "6c1f4a52-9b1e-4c1e-8d3a-5b7f2f1e9a10", T0, 15))
    with httpx.Client(base_url=platform.base_url, timeout=10) as http:
        assert http.post("/caliper/event", json=envelope, headers=reader).status_code == 403
        assert http.get("/caliper/events", headers=writer).status_code == 403
        assert http.post("/caliper/event", json=envelope, headers=writer).status_code == 200
        listed = http.get("/caliper/events", params={"learner": email}, headers=reader)
        assert len(listed.json()["events"]) == 1
        assert http.post("/caliper/event", json=envelope).status_code == 401
        bogus = {"Authorization": "Bearer not-a-token"}
        assert http.post("/caliper/event", json=envelope, headers=bogus).status_code == 401


def test_revoked_client_loses_its_tokens(platform: PlatformProcess) -> None:
    client_id, secret = platform.create_client("revoke-me")
    token = _token(platform, data={"grant_type": "client_credentials"},
                   auth=(client_id, secret)).json()["access_token"]
    listing = json.loads(platform.cli("clients", "list", "--json").stdout)
    assert [c["revoked_at"] for c in listing if c["client_id"] == client_id] == [None]
    platform.cli("clients", "revoke", client_id)
    listing = json.loads(platform.cli("clients", "list", "--json").stdout)
    assert [c["revoked_at"] is not None for c in listing if c["client_id"] == client_id] == [True]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{platform.base_url}/caliper/events", headers=headers).status_code == 401
    again = _token(platform, data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert again.status_code == 401
    assert platform.cli("clients", "revoke", client_id, check=False).returncode != 0


@pytest.mark.backends("pg")
def test_on_postgresql_tokens_are_read_on_the_loop_and_a_lost_connection_costs_no_request(
        make_platform: Callable[..., PlatformProcess]) -> None:
    """serve checks bearer tokens through its loop's own connection (store/loop_reads.py); when
    that connection is gone, the request is answered through the engine and the next one
    connects again."""
    platform = make_platform()
    email = unique_email()
    run = "7d1f4a52-9b1e-4c1e-8d3a-5b7f2f1e9a10"
    engine = create_engine(platform.database_url())
    headers = {"Authorization": f"Bearer {platform.token()}"}
    try:
        with httpx.Client(base_url=platform.base_url, headers=headers, timeout=30) as http:
            def send(minute: int) -> None:
                envelope = wrap(heartbeat(email, run, T0 + timedelta(minutes=minute), 15))
                reply = http.post("/caliper/event", json=envelope)
                assert reply.status_code == 200, reply.text

            send(0)
            [first] = loop_read_backends(engine)
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                                    {"pid": first}).scalar_one()
            send(1)  # through a worker thread
            send(2)  # and on the loop again, through a new connection
            assert len(set(loop_read_backends(engine)) - {first}) == 1
        with engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(events)
                                  .where(events.c.learner_email == email)).scalar_one()
        assert stored == 3
    finally:
        engine.dispose()

