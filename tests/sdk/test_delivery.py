"""Delivery: batching, retries, backoff, Retry-After, dead letters, tokens, completions."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.sdk.conftest import MATH, USER, make_client
from timeledger.sdk import Client, ErrorContext, RejectedError
from timeledger.testing import FakeClock, FakePlatform


def record(client: Client, xp: float = 1, **kwargs: Any) -> Any:
    return client.activity.record(
        user=USER, activity={"id": "fractions-1", "name": "Fractions 1", "course": MATH},
        metrics={"xp_earned": xp}, **kwargs)


def heartbeats(client: Client, clock: FakeClock, windows: int) -> Any:
    activity = client.activity.start(id="fractions-1", name="Fractions 1", course=MATH,
                                     user=USER)
    clock.advance(15 * windows)
    activity.end()
    return activity


def event_posts(fake: FakePlatform) -> int:
    return sum(1 for r in fake.requests if r.url.path == "/caliper/event")


def test_batches_by_count_and_bytes(clock: FakeClock, fake: FakePlatform) -> None:
    with make_client(clock, fake, max_batch_events=4) as client:
        heartbeats(client, clock, 10)
        assert client.flush()
        assert [len(e["data"]) for e in fake.envelopes] == [4, 4, 2]
    small = FakePlatform()
    with make_client(clock, small, max_batch_bytes=2000) as client:
        heartbeats(client, clock, 5)
        size = len(client.pending()[0].body)
        assert 667 < size <= 1000  # so two events fit in 2000 bytes, three never do
        assert client.flush()
        assert [len(e["data"]) for e in small.envelopes] == [2, 2, 1]


def test_envelope_shape(client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    heartbeats(client, clock, 1)
    client.flush()
    envelope = fake.envelopes[0]
    assert envelope["sensor"] == "https://quiz.example.com"
    assert envelope["dataVersion"] == "http://purl.imsglobal.org/ctx/caliper/v1p2"
    assert envelope["sendTime"] == "2025-01-15T10:00:15.000Z"
    post = next(r for r in fake.requests if r.url.path == "/caliper/event")
    assert post.headers["content-type"] == "application/json"
    assert post.headers["authorization"] == "Bearer fake-token-1"
    token = next(r for r in fake.requests if r.url.path == "/oauth2/token")
    assert str(token.url) == "http://fake.test/oauth2/token"  # default: {base_url}/oauth2/token
    assert token.headers["authorization"] == "Basic YXBwOnNlY3JldA=="
    assert token.content == b"grant_type=client_credentials"


def test_retries_5xx_with_capped_backoff_keeping_event_ids(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    heartbeats(client, clock, 2)
    ids = [row.event_id for row in client.pending()]
    fake.fail(503, times=7)
    delays = []
    for _ in range(7):
        result = client.sender.run_once()
        assert result.failed == 2 and result.blocked_until is not None
        delays.append(result.blocked_until - clock.monotonic())
        assert client.sender.run_once().blocked_until == result.blocked_until  # waits
        clock.advance(result.blocked_until - clock.monotonic())
    bounds = [0.5, 1, 2, 4, 8, 16, 30]  # doubling from 0.5 s, capped at max_backoff
    jitter = random.Random(7)  # the same seed as the client's rng: the jitter it drew
    for delay, bound in zip(delays, bounds, strict=True):
        assert bound / 2 <= delay <= bound
        assert delay == pytest.approx(bound * (0.5 + jitter.random() / 2))
    assert len({round(d / b, 6) for d, b in zip(delays, bounds, strict=True)}) > 1  # jittered
    assert [row.attempts for row in client.pending()] == [7, 7]
    assert client.sender.run_once().delivered == 2
    assert list(fake.events) == ids
    assert client.pending() == []


def test_network_errors_and_429_are_retried(client: Client, clock: FakeClock,
                                            fake: FakePlatform) -> None:
    heartbeats(client, clock, 1)
    fake.fail(network=True)
    fake.fail(429)
    fake.fail(408)
    for _ in range(3):
        result = client.sender.run_once()
        assert result.failed == 1
        clock.advance(60)
    assert client.sender.run_once().delivered == 1


def test_retry_after_is_honoured(client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    heartbeats(client, clock, 1)
    fake.fail(503, headers={"Retry-After": "42"})
    result = client.sender.run_once()
    assert result.blocked_until == clock.monotonic() + 42
    clock.advance(41.9)
    assert client.sender.run_once().blocked_until is not None
    clock.advance(0.1)
    assert client.sender.run_once().delivered == 1
    fake.fail(429, headers={"Retry-After": "Wed, 15 Jan 2025 10:10:00 GMT"})
    heartbeats(client, clock, 1)
    result = client.sender.run_once()
    expected = (clock.now().replace(minute=10, second=0) - clock.now()).total_seconds()
    assert result.blocked_until == pytest.approx(clock.monotonic() + expected)


def test_rejection_isolates_the_bad_event_and_buries_it(
        clock: FakeClock, fake: FakePlatform) -> None:
    errors: list[tuple[Exception, ErrorContext]] = []
    with make_client(clock, fake, on_error=lambda e, c: errors.append((e, c))) as client:
        heartbeats(client, clock, 3)
        bad = client.pending()[1].event_id
        fake.reject(lambda event: event["id"] == bad)
        result = client.sender.run_once()
        assert (result.delivered, result.dead) == (2, 1)
        assert bad not in fake.events and len(fake.events) == 2
        assert [row.event_id for row in client.dead_letters()] == [bad]
        letter = client.dead_letters()[0]
        assert "HTTP 400" in letter.last_error
        assert (letter.reason, letter.status, letter.attempts) == ("rejected", 400, 1)
        assert letter.dead_at == clock.now()
        assert client.pending() == []
        assert len(errors) == 1
        error, context = errors[0]
        assert isinstance(error, RejectedError) and error.status == 400
        assert error.details == [{"path": "data[0]", "message": "rejected"}]
        assert (context.kind, context.event_id, context.dead) == ("heartbeat", bad, True)
        # the refusal named data[1]: it went alone, the other two together; never sent again
        assert [fake.attempts[row] for row in fake.attempts] == [2, 2, 2]
        client.flush()
        assert event_posts(fake) == 3


def test_transient_failure_during_isolation_keeps_the_rest_queued(
        client: Client, clock: FakeClock, fake: FakePlatform) -> None:
    heartbeats(client, clock, 3)
    first = client.pending()[0].event_id
    fake.reject(lambda event: event["id"] == first)
    original = fake._handle
    calls = {"n": 0}

    def handle(request: Any) -> Any:
        if request.url.path == "/caliper/event":
            calls["n"] += 1
            if calls["n"] == 3:  # batch (400 naming the first), first alone (400), the rest: 503
                fake.fail(503)
        return original(request)

    fake.handler = handle
    result = client.sender.run_once()
    assert (result.dead, result.failed, result.delivered) == (1, 2, 0)
    assert len(client.pending()) == 2 and len(client.dead_letters()) == 1
    clock.advance(60)
    assert client.sender.run_once().delivered == 2


def test_on_error_after_retry_attempts_then_keeps_retrying(
        clock: FakeClock, fake: FakePlatform) -> None:
    with make_client(clock, fake) as client:
        errors: list[ErrorContext] = []
        activity = client.activity.start(id="a", name="A", course=MATH, user=USER,
                                         time={"retry_attempts": 2},
                                         on_error=lambda e, c: errors.append(c))
        clock.advance(15)
        activity.end()
        fake.fail(500, times=5)
        for _ in range(5):
            client.sender.run_once()
            clock.advance(40)
            assert len(errors) == (1 if _ >= 2 else 0)
        assert errors[0].kind == "heartbeat" and errors[0].attempts == 3
        assert not errors[0].dead
        client.sender.run_once()
        assert len(fake.events) == 1


def test_token_url_may_point_elsewhere(clock: FakeClock, fake: FakePlatform) -> None:
    with make_client(clock, fake, base_url="http://api.test",
                     token_url="http://auth.test/tenant/oauth2/token") as client:
        assert record(client).delivered is True
    assert [str(r.url) for r in fake.requests] == [
        "http://auth.test/tenant/oauth2/token", "http://api.test/caliper/event"]


def test_token_is_cached_refreshed_before_expiry_and_after_401(
        clock: FakeClock) -> None:
    fake = FakePlatform(token_expires_in=300)
    with make_client(clock, fake) as client:
        record(client)
        clock.advance(239)  # the token is 239 s old: more than 60 s left
        record(client)
        assert fake.tokens_issued == 1
        clock.advance(2)  # 241 s old: inside the 60 s margin, refreshed before use
        record(client)
        assert fake.tokens_issued == 2
        fake.revoke_tokens()
        assert record(client).delivered is True
        assert fake.tokens_issued == 3
        paths = [r.url.path for r in fake.requests]
        assert paths[-3:] == ["/caliper/event", "/oauth2/token", "/caliper/event"]
        assert len(fake.completions) == 4


def test_persistent_401_is_not_a_rejection(clock: FakeClock, fake: FakePlatform) -> None:
    errors: list[Exception] = []
    with make_client(clock, fake, on_error=lambda e, c: errors.append(e),
                     retry_attempts=0) as client:
        heartbeats(client, clock, 1)
        fake.fail(401, times=2)
        result = client.sender.run_once()
        assert result.failed == 1 and result.blocked_until is not None
        assert result.blocked_until - clock.monotonic() >= 30.0  # max_backoff: fix credentials
        assert client.dead_letters() == [] and len(client.pending()) == 1
        assert type(errors[0]).__name__ == "AuthError"
        clock.advance(60)
        assert client.sender.run_once().delivered == 1


def test_bad_credentials_keep_events_queued(clock: FakeClock) -> None:
    fake = FakePlatform()

    def refuse(request: Any) -> Any:
        import httpx

        return httpx.Response(401, json={"error": "invalid_client"})

    fake.handler = refuse
    with make_client(clock, fake) as client:
        heartbeats(client, clock, 1)
        assert client.sender.run_once().failed == 1
        assert len(client.pending()) == 1 and client.dead_letters() == []


def test_end_waits_for_the_completion_and_raises_a_rejection(
        clock: FakeClock, fake: FakePlatform) -> None:
    seen: list[ErrorContext] = []
    with make_client(clock, fake) as client:
        activity = client.activity.start(id="a", name="A", course=MATH, user=USER,
                                         on_error=lambda e, c: seen.append(c))
        clock.advance(5)
        fake.reject(lambda event: event["type"] == "ActivityEvent")
        with pytest.raises(RejectedError) as info:
            activity.end({"xp_earned": 3})
        assert info.value.status == 400
        assert [c.kind for c in seen] == ["completion"]
        assert not activity.is_ended
        assert client.activity.current is None
        assert fake.active_seconds() == 5.0  # the final heartbeat went through
        assert [row.kind for row in client.dead_letters()] == ["completion"]


def test_end_during_an_outage_returns_and_leaves_the_completion_queued(
        clock: FakeClock, fake: FakePlatform) -> None:
    errors: list[Exception] = []
    with make_client(clock, fake) as client:
        activity = client.activity.start(id="a", name="A", course=MATH, user=USER,
                                         on_error=lambda e, c: errors.append(e))
        clock.advance(5)
        fake.fail(503, times=3)
        receipt = activity.end({"xp_earned": 3})
        assert receipt.delivered is False and activity.is_ended
        assert errors == []
        assert [row.kind for row in client.pending()] == ["heartbeat", "completion"]
        assert receipt.completion_id == client.pending()[1].event_id
        for _ in range(3):  # two more 503s, then the platform is back
            clock.advance(60)
            client.flush()
        assert client.pending() == []
        assert len(fake.completions) == 1
        assert fake.completions[0]["id"] == receipt.completion_id


def test_record_sends_completion_and_optional_time(client: Client, fake: FakePlatform) -> None:
    run = "66666666-6666-4666-8666-666666666666"
    receipt = record(client, xp=7, run_id=run, time={
        "started_at": "2025-01-15T11:00:00Z", "ended_at": "2025-01-15T11:06:00Z",
        "active_ms": 300_000, "inactive_ms": 60_000})
    assert receipt.delivered is True and receipt.run_id == run
    spent, done = fake.envelopes[0]["data"]
    assert spent["generated"]["items"][0]["value"] == 300.0
    assert spent["generated"]["items"][1]["value"] == 60.0
    assert spent["eventTime"] == done["eventTime"] == "2025-01-15T11:06:00.000Z"
    assert done["extensions"]["runId"] == run
    assert done["actor"]["id"] == \
        "https://quiz.example.com/ims/oneroster/rostering/v1p2/users/student-1"
    record(client, xp=2)
    assert len(fake.completions) == 2 and len(fake.time_spent) == 1


def test_record_resent_with_same_run_and_time_is_deduplicated(
        client: Client, fake: FakePlatform) -> None:
    run = "66666666-6666-4666-8666-666666666666"
    window = {"started_at": "2025-01-15T11:00:00Z", "ended_at": "2025-01-15T11:06:00Z",
              "active_ms": 300_000}
    first = record(client, run_id=run, time=window)
    second = record(client, run_id=run, time=window)
    assert first.event_ids == second.event_ids
    assert second.delivered is True  # nothing new was queued: the first one was delivered
    assert len(fake.events) == 2


def test_enqueue_refuses_an_id_seen_before(client: Client, fake: FakePlatform) -> None:
    from timeledger.caliper import completed_event, stable_event_id
    from timeledger.caliper.metrics import Metrics

    ref = client.activity_ref("fractions-1", "Fractions 1", MATH)
    actor = client.actor(USER)
    event = completed_event(actor=actor, activity=ref, run_id=None, ended_at=client.clock.now(),
                            metrics=Metrics(xp_earned=1),
                            event_id=stable_event_id("run", "2025-01-15T10:00:00.000Z"))
    assert client.enqueue(event) is True
    assert client.enqueue(event) is False
    assert client.flush()
    assert client.enqueue(event) is False  # still remembered after delivery
    assert list(fake.events) == [event["id"]]
