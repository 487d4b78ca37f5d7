"""The platform answers only the Host names it serves: a DNS-rebinding page gets 400, not data."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from starlette.types import Message, Receive, Scope, Send

from tests.support.events import T0, heartbeat, unique_email, wrap
from tests.support.platform import PlatformProcess
from timeledger.server.api.host_check import (
    MAX_DECIDED_HOSTS,
    HostCheck,
    HostPolicy,
    normalize_host,
)
from timeledger.server.store.access_tables import dashboard_share_links
from timeledger.server.store.database import create_engine

ATTACKER = "attacker.example:8000"


def _refused(reply: httpx.Response, host: str) -> None:
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["imsx_codeMajor"] == "failure"
    assert body["imsx_error_details"][0]["path"] == "Host"
    assert repr(host) in body["imsx_description"]


def test_a_foreign_host_reads_no_events_and_mints_no_share_link(
        platform: PlatformProcess) -> None:
    email = unique_email()
    assert platform.send(wrap(heartbeat(email, "5a1f4a52-9b1e-4c1e-8d3a-5b7f2f1e9a10", T0,
                                        30))).status_code == 200
    with httpx.Client(base_url=platform.base_url, timeout=10) as client:
        events = client.get("/data/events", headers={"Host": ATTACKER})
        _refused(events, ATTACKER)
        assert email not in events.text
        minted = client.post(f"/learners/{quote(email)}/share", data={"days": "7"},
                             headers={"Host": ATTACKER, "Origin": f"http://{ATTACKER}"})
        _refused(minted, ATTACKER)
        # The same requests under the platform's own names get through the check.
        for host in (f"127.0.0.1:{platform.port}", f"localhost:{platform.port}", "[::1]"):
            reply = client.get("/data/events", headers={"Host": host})
            assert reply.status_code == 200, (host, reply.text)
            assert email in reply.text
    engine = create_engine(platform.database_url())
    try:
        with engine.connect() as conn:
            links = conn.execute(sa.select(sa.func.count()).select_from(dashboard_share_links)
                                 .where(dashboard_share_links.c.learner_email == email))
            assert links.scalar_one() == 0
    finally:
        engine.dispose()


def test_api_routes_refuse_a_foreign_host_before_auth(platform: PlatformProcess) -> None:
    with platform.http() as client:
        reply = client.get("/caliper/events", headers={"Host": ATTACKER})
        _refused(reply, ATTACKER)
        assert client.get("/caliper/events", params={"limit": 1}).status_code == 200


def test_allowed_host_option_adds_a_name(tmp_path: Path) -> None:
    options = ["--allowed-host", "Ledger.School.example", "--allowed-host", "10.1.2.3"]
    with PlatformProcess(tmp_path, extra_args=options) as served, \
            httpx.Client(base_url=served.base_url, timeout=10) as client:
        assert client.get("/healthz", headers={"Host": "ledger.school.example"}
                          ).status_code == 200
        assert client.get("/healthz", headers={"Host": "LEDGER.school.example.:443"}
                          ).status_code == 200
        assert client.get("/healthz", headers={"Host": "10.1.2.3:8000"}).status_code == 200
        _refused(client.get("/healthz", headers={"Host": "school.example"}),
                 "school.example")
        _refused(client.get("/healthz", headers={"Host": "10.1.2.4"}), "10.1.2.4")


def test_policy_for_loopback_and_specific_binds() -> None:
    loopback = HostPolicy.for_bind("127.0.0.1")
    for host in ("localhost", "localhost:8000", "127.0.0.1:1", "[::1]:8000", "[0:0::1]"):
        assert loopback.admits(host), host
    assert not loopback.admits(None)
    for host in ("attacker.example", "10.0.0.5", "localhost.attacker.example", "",
                 "127.0.0.1:80:80", "user@localhost", "[::1", "localhost/x"):
        assert not loopback.admits(host), host
    specific = HostPolicy.for_bind("10.0.0.5", ["ledger.example"])
    assert specific.admits("10.0.0.5:8000")
    assert specific.admits("ledger.example")
    assert specific.admits("localhost")
    assert not specific.admits("10.0.0.6")


def test_policy_for_a_wildcard_bind_takes_ip_addresses_but_names_only_if_allowed() -> None:
    """A rebinding always carries a DNS name; an IP Host is someone using the address."""
    wide = HostPolicy.for_bind("0.0.0.0", ["ledger.example"])
    for host in ("192.168.1.20:8000", "[2001:db8::1]:8000", "ledger.example", "localhost"):
        assert wide.admits(host), host
    assert not wide.admits("attacker.example")
    assert not HostPolicy.for_bind("::").admits("attacker.example")
    assert HostPolicy.for_bind("127.0.0.1", ["*"]).admits("anything.example")


def test_allowed_names_are_checked() -> None:
    assert normalize_host("Ledger.Example.") == "ledger.example"
    assert normalize_host("::1") == "[::1]"
    for bad in ("ledger.example:8000", "http://ledger.example", "a/b", "", "[ledger]"):
        with pytest.raises(ValueError):
            normalize_host(bad)


def test_remembered_decisions_stay_right_past_the_bound() -> None:
    """HostCheck remembers its decisions per Host header, at most MAX_DECIDED_HOSTS of them."""
    reached: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(dict(scope["headers"])[b"host"].decode())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    check = HostCheck(app, HostPolicy.for_bind("127.0.0.1"))

    def status(host: str) -> int:
        replies: list[int] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                replies.append(message["status"])

        asyncio.run(check({"type": "http", "method": "GET", "path": "/", "query_string": b"",
                           "headers": [(b"host", host.encode())]}, receive, send))
        return replies[0]

    for _ in range(2):  # the second time from what it remembered
        assert status("127.0.0.1:8000") == 204
        assert status(ATTACKER) == 400
    for n in range(MAX_DECIDED_HOSTS + 5):  # made-up names past the bound
        assert status(f"made-up-{n}.example") == 400
    assert status("localhost:8000") == 204
    assert status(ATTACKER) == 400
    assert len(check._decided) <= MAX_DECIDED_HOSTS
    assert reached == ["127.0.0.1:8000", "127.0.0.1:8000", "localhost:8000"]
