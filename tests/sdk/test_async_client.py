"""AsyncClient: the same behaviour as Client, with coroutines."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from tests.sdk.conftest import CONFIG, MATH, USER
from timeledger.sdk import AsyncClient, RejectedError
from timeledger.testing import FakeClock, FakePlatform


def make_async(clock: FakeClock | None, fake: FakePlatform, **kwargs: Any) -> AsyncClient:
    return AsyncClient("http://platform.test", client_id="app", client_secret="secret",
                       config=CONFIG, clock=clock, transport=fake, outbox=None,
                       rng=random.Random(3), environ={}, **kwargs)


def test_async_twin_with_a_fake_clock(clock: FakeClock, fake: FakePlatform) -> None:
    async def main() -> None:
        async with make_async(clock, fake) as client:
            activity = await client.activity.start(id="a", name="A", course=MATH, user=USER)
            assert client.activity.current is activity
            clock.advance(30)
            activity.pause()
            clock.advance(10)
            activity.resume()
            clock.advance(2)
            assert activity.total_active_ms == 32000
            receipt = await activity.end({"xp_earned": 1})
            assert receipt.delivered is True and activity.is_ended
            assert client.activity.current is None
            assert await client.pending() == []
            record = await client.activity.record(
                user=USER, activity={"id": "a", "name": "A", "course": MATH},
                metrics={"xpEarned": 4})
            assert record.delivered is True

    asyncio.run(main())
    assert fake.active_seconds() == 32.0
    assert [e["generated"]["items"][0]["value"] for e in fake.completions] == [1, 4]


def test_async_rejection_raises_and_outage_leaves_it_queued(clock: FakeClock,
                                                            fake: FakePlatform) -> None:
    async def main() -> None:
        async with make_async(clock, fake) as client:
            activity = await client.activity.start(id="a", name="A", course=MATH, user=USER,
                                                   time=False)
            fake.fail(503)
            receipt = await activity.end({"xp_earned": 1})
            assert receipt.delivered is False
            assert [row.kind for row in await client.pending()] == ["completion"]
            clock.advance(60)
            assert await client.flush()
            fake.reject(lambda event: True)
            second = await client.activity.start(id="b", name="B", course=MATH, user=USER,
                                                 time=False)
            with pytest.raises(RejectedError):
                await second.end({"xp_earned": 1})
            assert len(await client.dead_letters()) == 1

    asyncio.run(main())
    assert len(fake.completions) == 1


def test_async_background_task_delivers_heartbeats_in_real_time(fake: FakePlatform) -> None:
    async def main() -> None:
        async with make_async(None, fake, heartbeat_interval=0.05, batch_interval=0.0) as client:
            async with await client.activity.start(id="a", name="A", course=MATH,
                                                   user=USER) as activity:
                deadline = asyncio.get_running_loop().time() + 10
                while len(fake.time_spent) < 3:
                    assert asyncio.get_running_loop().time() < deadline
                    await asyncio.sleep(0.02)
                receipt = await activity.end({"xp_earned": 1})
            assert receipt.delivered is True
            assert await client.enqueue(fake.completions[0]) is False

    asyncio.run(main())
    assert len(fake.completions) == 1


def test_async_activity_context_manager_ends_time_only_on_exception(
        clock: FakeClock, fake: FakePlatform) -> None:
    async def main() -> None:
        async with make_async(clock, fake) as client:
            with pytest.raises(RuntimeError, match="boom"):
                async with await client.activity.start(id="a", name="A", course=MATH,
                                                       user=USER) as activity:
                    clock.advance(20)
                    raise RuntimeError("boom")
            assert activity.is_ended and client.activity.current is None
            assert await client.flush()

    asyncio.run(main())
    assert fake.active_seconds() == 20.0 and fake.completions == []
