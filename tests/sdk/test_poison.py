"""Poison isolation: one event the platform cannot take never holds back the others."""

from __future__ import annotations

import asyncio
import math
import random
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest

from tests.sdk.conftest import CONFIG, MATH, USER, make_client
from timeledger.caliper.builders import stable_event_id, time_spent_event
from timeledger.sdk import (
    AsyncClient,
    AuthError,
    Client,
    ErrorContext,
    RejectedError,
    TransientDeliveryError,
    UndeliverableError,
)
from timeledger.sdk.errors import ConfigurationError
from timeledger.testing import FakeClock, FakePlatform

RUN = "3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10"
BATCH = 100  # the default max_batch_events
STRIKES = 8  # the default max_failures_alone


def events(client: Client | AsyncClient, count: int, first: int = 0) -> list[dict[str, Any]]:
    """`count` distinct 15 s heartbeat windows, numbered from `first`."""
    ref = client.activity_ref("fractions-1", "Fractions 1", MATH)
    actor = client.actor(USER)
    made = []
    for number in range(first, first + count):
        started = client.clock.now() - timedelta(hours=2) + timedelta(seconds=15 * number)
        made.append(time_spent_event(
            actor=actor, activity=ref, run_id=RUN, started_at=started,
            ended_at=started + timedelta(seconds=15), active_ms=15000, inactive_ms=0,
            event_id=stable_event_id(RUN, str(number))))
    return made


def posts(fake: FakePlatform) -> int:
    return sum(1 for request in fake.requests if request.url.path == "/caliper/event")


def recorder() -> tuple[list[tuple[Exception, ErrorContext]], Any]:
    seen: list[tuple[Exception, ErrorContext]] = []
    return seen, lambda error, context: seen.append((error, context))


def retry_held_until_settled(client: Client, clock: FakeClock, limit: int) -> int:
    """Let each hold run out (they are capped at max_backoff, 30 s) and flush; count retries."""
    for retries in range(limit + 1):
        if not client.pending():
            return retries
        clock.advance(31)
        client.flush()
    raise AssertionError(f"still pending after {limit} retries")


def test_one_poisoned_event_among_a_thousand(clock: FakeClock, fake: FakePlatform) -> None:
    errors, on_error = recorder()
    with make_client(clock, fake, on_error=on_error) as client:
        queued = events(client, 1001)
        poisoned = queued[437]["id"]  # batch 4 (events 400-499), at index 37
        fake.poison([poisoned])
        assert all(client.enqueue(event) for event in queued)
        client.flush()
        good = [event["id"] for event in queued if event["id"] != poisoned]
        assert sorted(fake.events) == sorted(good)  # all 1,000, in the first pass
        assert [row.event_id for row in client.pending()] == [poisoned]  # held, alone
        # Batch 4 is halved along the halves that fail; siblings that pass are delivered:
        # 100 ✗ → 50 ✗ (400-449) → 25 ✓ (400-424), 25 ✗ → 13 ✗ (425-437) → 7 ✓, 6 ✗ (432-437)
        # → 3 ✓, 3 ✗ (435-437) → 2 ✓, 1 ✗ (the poison: strike 1) → then 12 ✓ and 50 ✓.
        envelopes_carrying_it = [100, 50, 25, 13, 6, 3, 1]
        batch_4 = [*envelopes_carrying_it, 25, 7, 3, 2, 12, 50]
        batches = math.ceil(1001 / BATCH)
        assert posts(fake) == batches - 1 + len(batch_4)
        assert fake.attempts[poisoned] == len(envelopes_carrying_it)

        # It already has one strike; each retry alone adds one, the eighth buries it.
        assert retry_held_until_settled(client, clock, limit=20) == STRIKES - 1
        assert fake.attempts[poisoned] == len(envelopes_carrying_it) + STRIKES - 1
        assert posts(fake) == batches - 1 + len(batch_4) + STRIKES - 1
        [letter] = client.dead_letters()
        assert (letter.event_id, letter.reason, letter.status) == (poisoned, "failed_alone", 500)
        assert letter.attempts == STRIKES  # one per round it took part in
        assert "failed on this event alone 8 times" in letter.last_error
        assert "HTTP 500: Internal error" in letter.last_error
        assert letter.dead_at == clock.now() and letter.event()["id"] == poisoned
        assert sorted(fake.events) == sorted(good)
        error, context = errors[-1]
        assert isinstance(error, UndeliverableError) and error.reason == "failed_alone"
        assert isinstance(error.last, TransientDeliveryError) and error.status == 500
        assert (context.event_id, context.dead, context.attempts) == (poisoned, True, STRIKES)
        # on_error also heard once, not dead, after retry_attempts (3) failures, as for any event
        assert [(c.event_id, c.dead, c.attempts) for _, c in errors] == [
            (poisoned, False, 4), (poisoned, True, STRIKES)]
        # a dead letter is never sent again
        clock.advance(3600)
        assert client.flush()
        assert fake.attempts[poisoned] == len(envelopes_carrying_it) + STRIKES - 1


def test_a_poisoned_oldest_batch_does_not_stop_later_events(
        clock: FakeClock, fake: FakePlatform) -> None:
    with make_client(clock, fake) as client:
        first = events(client, BATCH)
        poisoned = first[0]["id"]
        fake.poison([poisoned])
        for event in first:
            client.enqueue(event)
        result = client.sender.run_once()
        # Every half holding the poison fails and none passes: 100, 50, 25, 13, 7, 4, 2, 1.
        # With no envelope accepted this could be an outage, so no strike, and the sender waits.
        depth = 1 + math.ceil(math.log2(BATCH))
        assert posts(fake) == fake.attempts[poisoned] == depth
        assert (result.delivered, result.held, result.failed, result.dead) == (0, 1, 99, 0)
        assert result.blocked_until is not None and fake.events == {}
        later = events(client, 50, first=BATCH)
        for event in later:
            client.enqueue(event)
        clock.advance(31)  # past the sender's wait and the poison's own hold
        client.flush()
        # Held events go after the others: the 99 of the first batch and the first later one
        # (one envelope of 100), the 49 other later ones; then the poison alone: strike 1.
        assert set(fake.events) == {event["id"] for event in first[1:] + later}
        assert posts(fake) == depth + 2 + 1
        assert [row.event_id for row in client.pending()] == [poisoned]
        assert retry_held_until_settled(client, clock, limit=20) == STRIKES - 1
        assert [letter.event_id for letter in client.dead_letters()] == [poisoned]
        assert fake.attempts[poisoned] == depth + STRIKES


def test_an_outage_of_500s_dead_letters_nothing_and_stays_bounded(
        clock: FakeClock, fake: FakePlatform) -> None:
    """Every envelope failing is an outage, not ten poisons: nothing is given up."""
    with make_client(clock, fake, max_batch_events=10) as client:
        for event in events(client, 10):
            client.enqueue(event)
        fake.fail(500, times=10_000)
        depth = 1 + math.ceil(math.log2(10))
        for _ in range(60):  # half an hour of backing off
            before = posts(fake)
            result = client.sender.run_once()
            assert posts(fake) - before <= depth
            assert result.dead == 0 and result.delivered == 0
            clock.advance(31)
        assert client.dead_letters() == [] and len(client.pending()) == 10
        fake.replies.clear()
        retry_held_until_settled(client, clock, limit=10)
        assert len(fake.events) == 10 and client.dead_letters() == []


def test_a_refused_event_is_dead_lettered_without_blocking(
        clock: FakeClock, fake: FakePlatform) -> None:
    errors, on_error = recorder()
    with make_client(clock, fake, on_error=on_error) as client:
        queued = events(client, 250)
        bad = queued[130]["id"]
        fake.reject(lambda event: event["id"] == bad)
        for event in queued:
            client.enqueue(event)
        assert client.flush()
        # batch 2 answered 400 naming data[30]: that event alone (400 again), the 99 others
        # together; batches 1 and 3 passed
        assert posts(fake) == 3 + 2
        assert fake.attempts[bad] == 2
        assert len(fake.events) == 249 and bad not in fake.events
        [letter] = client.dead_letters()
        assert (letter.event_id, letter.reason, letter.status) == (bad, "rejected", 400)
        assert letter.last_error == "HTTP 400: Invalid event (data[0]: rejected)"
        [(error, context)] = errors
        assert isinstance(error, RejectedError) and context.dead and context.event_id == bad


def refusing(fake: FakePlatform, reply: Any) -> None:
    """Route event posts through `reply(envelope)` first (None: the fake answers as usual)."""
    original = fake._handle

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/caliper/event":
            answer = reply(orjson.loads(request.content))
            if answer is not None:
                fake.requests.append(request)
                return answer  # type: ignore[no-any-return]
        return original(request)

    fake.handler = handle


def test_a_refusal_naming_no_event_is_halved(clock: FakeClock, fake: FakePlatform) -> None:
    with make_client(clock, fake, max_batch_events=8) as client:
        queued = events(client, 8)
        bad = queued[5]["id"]
        refusing(fake, lambda envelope: httpx.Response(400, json={"imsx_description": "bad"})
                 if any(event["id"] == bad for event in envelope["data"]) else None)
        for event in queued:
            client.enqueue(event)
        assert client.flush()
        # 8 ✗ → 4 ✓ (0-3), 4 ✗ (4-7) → 2 ✗ (4-5) → 1 ✓ (4), 1 ✗ (5: dead); 2 ✓ (6-7)
        assert posts(fake) == 7
        assert [letter.event_id for letter in client.dead_letters()] == [bad]
        assert len(fake.events) == 7


def test_413_halves_the_envelope_and_buries_only_an_event_too_large_alone(
        clock: FakeClock, fake: FakePlatform) -> None:
    with make_client(clock, fake, max_batch_events=10) as client:
        queued = events(client, 10)
        huge = queued[7]["id"]
        refusing(fake, lambda envelope: httpx.Response(413, json={"imsx_description": "big"})
                 if len(envelope["data"]) > 3 or any(event["id"] == huge
                                                     for event in envelope["data"]) else None)
        for event in queued:
            client.enqueue(event)
        assert client.flush()
        # 10 ✗ → 5 ✗ (0-4) → 3 ✓, 2 ✓; 5 ✗ (5-9) → 3 ✗ (5-7) → 2 ✓, 1 ✗ (7: dead); 2 ✓ (8-9)
        assert posts(fake) == 9
        assert len(fake.events) == 9 and huge not in fake.events
        [letter] = client.dead_letters()
        assert (letter.event_id, letter.reason, letter.status) == (huge, "rejected", 413)


@pytest.mark.parametrize(("status", "kind"), [(404, TransientDeliveryError), (403, AuthError)])
def test_a_misdirected_request_keeps_every_event_queued(
        clock: FakeClock, fake: FakePlatform, status: int, kind: type[Exception]) -> None:
    errors, on_error = recorder()
    with make_client(clock, fake, on_error=on_error, retry_attempts=0) as client:
        for event in events(client, 5):
            client.enqueue(event)
        fake.fail(status, times=3)
        for _ in range(3):
            result = client.sender.run_once()
            assert result.failed == 5 and result.blocked_until is not None
            assert result.blocked_until - clock.monotonic() >= 30.0  # max_backoff: fix config
            clock.advance(31)
        assert client.dead_letters() == [] and posts(fake) == 3
        assert {type(error) for error, _ in errors} == {kind}
        assert client.flush() and len(fake.events) == 5


def test_an_event_older_than_max_event_age_is_dead_lettered_at_its_next_failure(
        clock: FakeClock, fake: FakePlatform) -> None:
    errors, on_error = recorder()
    with make_client(clock, fake, on_error=on_error) as client:
        [old, fresh] = events(client, 2)
        client.enqueue(old)
        fake.fail(503, times=10, headers={"Retry-After": "600"})
        day = 86400.0
        for _ in range(7):  # an outage: retried, never dead before the bound
            assert client.sender.run_once().failed == 1
            clock.advance(day - 1)
        assert client.dead_letters() == []
        clock.advance(7)  # 7 days and 0 s since it was queued
        client.enqueue(fresh)
        result = client.sender.run_once()
        assert (result.dead, result.failed) == (1, 1)
        [letter] = client.dead_letters()
        assert (letter.event_id, letter.reason, letter.status) == (old["id"], "expired", 503)
        assert letter.dead_at - letter.queued_at == timedelta(days=7)
        assert "queued more than 604800 s ago (max_event_age)" in letter.last_error
        assert [row.event_id for row in client.pending()] == [fresh["id"]]
        error, context = errors[-1]
        assert isinstance(error, UndeliverableError) and error.reason == "expired"
        assert context.dead and context.attempts == 8


def test_an_old_event_the_platform_accepts_is_delivered(
        clock: FakeClock, fake: FakePlatform) -> None:
    with make_client(clock, fake, max_event_age=60) as client:
        client.enqueue(events(client, 1)[0])
        clock.advance(3600)
        assert client.flush() and len(fake.events) == 1


@pytest.mark.parametrize(("option", "value"), [("max_failures_alone", 0),
                                               ("max_event_age", -1.0),
                                               ("max_event_age", float("inf"))])
def test_bounds_of_the_options(clock: FakeClock, fake: FakePlatform, option: str,
                               value: float) -> None:
    with pytest.raises(ConfigurationError, match=option):
        make_client(clock, fake, **{option: value})


def test_options_come_from_the_environment(clock: FakeClock, fake: FakePlatform) -> None:
    with make_client(clock, fake, environ={"TIMELEDGER_MAX_FAILURES_ALONE": "2",
                                           "TIMELEDGER_MAX_EVENT_AGE": "3600"}) as client:
        assert (client.options.max_failures_alone, client.options.max_event_age) == (2, 3600.0)
        queued = events(client, 4)
        fake.poison([queued[3]["id"]])
        for event in queued:
            client.enqueue(event)
        client.flush()  # 4 ✗ → 2 ✓, 2 ✗ → 1 ✓, 1 ✗: strike 1 of 2
        assert retry_held_until_settled(client, clock, limit=5) == 1
        assert [letter.event_id for letter in client.dead_letters()] == [queued[3]["id"]]


def test_async_client_isolates_the_same_way(clock: FakeClock, fake: FakePlatform) -> None:
    async def scenario() -> None:
        errors, on_error = recorder()
        async with AsyncClient("http://fake.test", client_id="app", client_secret="secret",
                               config=CONFIG, clock=clock, transport=fake, outbox=None,
                               rng=random.Random(7), environ={}, on_error=on_error) as client:
            queued = events(client, 30)
            poisoned = queued[20]["id"]
            fake.poison([poisoned])
            for event in queued:
                assert await client.enqueue(event)
            await client.flush()
            assert len(fake.events) == 29
            for _ in range(STRIKES - 1):
                clock.advance(31)
                await client.flush()
            [letter] = await client.dead_letters()
            assert (letter.event_id, letter.reason) == (poisoned, "failed_alone")
            assert await client.pending() == []
            assert isinstance(errors[-1][0], UndeliverableError)

    asyncio.run(scenario())
