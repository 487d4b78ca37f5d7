"""Failed secrets and passwords are throttled per address and per account; checks cost alike."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.platform import PlatformProcess, run_cli
from timeledger.server.failed_attempts import FailedAttempts, FailureLimit
from timeledger.server.platform import utc_now
from timeledger.server.secret_checks import PER_ADDRESS, ChecksBusy, SecretChecks, address_key
from timeledger.server.store.credentials import CredentialStore
from timeledger.server.store.database import create_engine
from timeledger.server.store.migrate import ensure_schema


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_refused_after_the_limit_until_the_window_passes() -> None:
    clock = FakeClock()
    attempts = FailedAttempts(FailureLimit(failures=3, window_s=60), clock)
    for _ in range(2):
        attempts.record("a")
        clock.now += 10
    assert attempts.retry_after("a") is None
    attempts.record("a")  # failures at 1000, 1010, 1020
    assert attempts.retry_after("a") == 40  # the first one leaves the window at 1060
    assert attempts.retry_after("b") is None
    clock.now = 1059.5
    assert attempts.retry_after("a") == 1
    clock.now = 1060.0
    assert attempts.retry_after("a") is None  # one failure aged out: one more try
    attempts.record("a")
    assert attempts.retry_after("a") == 10  # now 1010 is the oldest of the last three


def test_memory_is_bounded_by_forgetting_the_least_recent_key() -> None:
    clock = FakeClock()
    attempts = FailedAttempts(FailureLimit(1, 60), clock, max_keys=3)
    for key in ("a", "b", "c", "a", "d"):
        attempts.record(key)
    assert len(attempts) == 3
    assert attempts.retry_after("b") is None  # forgotten
    assert attempts.retry_after("a") is not None
    assert attempts.retry_after("d") is not None


def test_ipv6_addresses_are_throttled_by_their_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("127.0.0.1") == "127.0.0.1"


def test_checks_past_the_wait_list_are_refused_not_queued() -> None:
    release = threading.Event()

    async def scenario() -> list[Any]:
        checks = SecretChecks(FakeClock(), threads=1, max_waiting=2)
        running = [asyncio.ensure_future(checks.run(release.wait)) for _ in range(3)]
        await asyncio.sleep(0)  # the three are submitted
        with pytest.raises(ChecksBusy):
            await checks.run(lambda: True)
        release.set()
        done = await asyncio.gather(*running)
        later = await checks.run(lambda: "room again")
        checks.close()
        return [*done, later]

    assert asyncio.run(scenario()) == [True, True, True, "room again"]


def test_an_unknown_client_id_costs_the_same_scrypt_as_a_wrong_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    ensure_schema(engine, auto_create_empty=True)
    store = CredentialStore(engine)
    issued = store.create_client("app", ("events:write",), utc_now())
    store.issue_token("warm-up", "x", (), utc_now())  # the dummy hash is made once
    revoked = store.create_client("old", ("events:write",), utc_now())
    store.revoke(revoked.client_id, utc_now())
    calls: list[int] = []
    real_scrypt = hashlib.scrypt

    def counting_scrypt(*args: Any, **kwargs: Any) -> bytes:
        calls.append(kwargs["n"])
        return real_scrypt(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting_scrypt)
    costs = []
    for client_id, secret in ((issued.client_id, "wrong"), ("tl_unknown", "wrong"),
                              (revoked.client_id, revoked.client_secret)):
        calls.clear()
        assert store.issue_token(client_id, secret, (), utc_now()) is None
        costs.append(list(calls))
    engine.dispose()
    assert costs[0] == costs[1] == costs[2]
    assert len(costs[0]) == 1 and costs[0][0] >= 2**14


@pytest.fixture
def throttled_platform(tmp_path: Path) -> Iterator[PlatformProcess]:
    with PlatformProcess(tmp_path) as running:
        yield running


def _token(base_url: str, client_id: str, secret: str,
           local_address: str = "127.0.0.1") -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=local_address)
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.post(f"{base_url}/oauth2/token", data={"grant_type": "client_credentials"},
                           auth=(client_id, secret))


def test_wrong_secrets_get_429_from_that_address_only(
        throttled_platform: PlatformProcess) -> None:
    client_id, secret = throttled_platform.create_client("victim")
    base = throttled_platform.base_url
    for attempt in range(PER_ADDRESS.failures):
        assert _token(base, client_id, f"guess-{attempt}").status_code == 401, attempt
    refused = _token(base, client_id, "one more guess")
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert retry_after >= 1
    assert retry_after <= PER_ADDRESS.window_s
    assert refused.json()["error"] == "too_many_requests"
    # Refused before checking: even the right secret waits, from the throttled address...
    assert _token(base, client_id, secret).status_code == 429
    # ...while the app at another address gets its token.
    other = _token(base, client_id, secret, local_address="127.0.0.2")
    assert other.status_code == 200, other.text
    assert other.json()["access_token"]


def _csrf_of(html: str) -> str:
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_wrong_dashboard_passwords_get_429(tmp_path: Path) -> None:
    with PlatformProcess(tmp_path, extra_args=["--require-login"]) as locked:
        run_cli("admin", "create", "teacher", "--password-stdin", *locked.db_args(),
                input_text="a long password\n")
        replies = []
        with httpx.Client(base_url=locked.base_url, timeout=30) as browser:
            for attempt in range(PER_ADDRESS.failures + 1):
                csrf = _csrf_of(browser.get("/login").text)
                replies.append(browser.post("/login", data={
                    "username": "teacher", "password": f"guess {attempt}",
                    "csrf_token": csrf, "next": "/"}))
        assert [r.status_code for r in replies] == [401] * PER_ADDRESS.failures + [429]
        assert int(replies[-1].headers["Retry-After"]) >= 1
        assert "Too many failed attempts" in replies[-1].text
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=locked.base_url, transport=transport, timeout=30) as other:
            csrf = _csrf_of(other.get("/login").text)
            signed_in = other.post("/login", data={"username": "teacher",
                                                   "password": "a long password",
                                                   "csrf_token": csrf, "next": "/"})
        assert signed_in.status_code == 303
