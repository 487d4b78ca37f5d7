"""`enabled=False` / `TIMELEDGER_DISABLED=1`: input is checked, nothing is stored or sent."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.sdk.conftest import CONFIG, MATH, USER
from timeledger.sdk import AsyncClient, Client, ValidationError
from timeledger.testing import FakePlatform

ACTIVITY = {"id": "a", "name": "A", "course": MATH}


def _threads() -> set[int]:
    return {thread.ident or 0 for thread in threading.enumerate()}


def _disabled(fake: FakePlatform, outbox: Path, **options: Any) -> Client:
    """A client on the real clock: it would start its timer and sender threads if enabled."""
    return Client("http://fake.test", client_id="app", client_secret="secret", config=CONFIG,
                  transport=fake, outbox=str(outbox), **options)


@pytest.mark.parametrize("switch", [{"enabled": False},
                                    {"environ": {"TIMELEDGER_DISABLED": "1"}}])
def test_a_disabled_client_checks_input_and_records_nothing(
        tmp_path: Path, fake: FakePlatform, switch: dict[str, Any]) -> None:
    outbox = tmp_path / "cache" / "outbox.sqlite3"
    before = _threads()
    client = _disabled(fake, outbox, **{"environ": {}, **switch})
    assert not client.options.enabled
    activity = client.activity.start(id="a", name="A", course=MATH, user=USER)
    activity.touch()
    with pytest.raises(ValidationError) as bad_metrics:
        activity.end({"xp_earned": "lots"})
    assert bad_metrics.value.field == "metrics.xp_earned"
    receipt = activity.end({"xp_earned": 1})
    assert receipt.completion_id is not None and receipt.delivered is None
    assert activity.is_ended and client.activity.current is None
    recorded = client.activity.record(user=USER, activity=ACTIVITY, metrics={"xp_earned": 2})
    assert recorded.completion_id is not None and recorded.delivered is None
    with pytest.raises(ValidationError) as bad_course:
        client.activity.start(id="a", name="A", course={"subject": "Art"}, user=USER)
    assert bad_course.value.field == "course"
    with pytest.raises(ValidationError):
        client.activity.record(user={"email": "not an email"}, activity=ACTIVITY,
                               metrics={"xp_earned": 1})
    assert client.enqueue({"id": "urn:uuid:1", "type": "ActivityEvent"}) is True
    assert client.pending() == [] and client.dead_letters() == []
    assert client.flush() and client.close()
    assert _threads() == before  # no timer thread, no sender thread
    assert fake.requests == []  # no network
    assert not outbox.exists() and not outbox.parent.exists()  # no file


def test_enabled_true_wins_over_the_variable(tmp_path: Path, fake: FakePlatform) -> None:
    with _disabled(fake, tmp_path / "outbox.sqlite3", enabled=True,
                   environ={"TIMELEDGER_DISABLED": "1"}, background=False) as client:
        assert client.options.enabled
        client.activity.record(user=USER, activity=ACTIVITY, metrics={"xp_earned": 1})
    assert (tmp_path / "outbox.sqlite3").exists() and len(fake.completions) == 1


def test_a_disabled_async_client_starts_no_thread(tmp_path: Path, fake: FakePlatform) -> None:
    outbox = tmp_path / "outbox.sqlite3"

    async def main() -> set[int]:
        before = _threads()
        async with AsyncClient("http://fake.test", config=CONFIG, transport=fake,
                               outbox=str(outbox), environ={"TIMELEDGER_DISABLED": "true"},
                               ) as client:
            activity = await client.activity.start(id="a", name="A", course=MATH, user=USER)
            receipt = await activity.end({"xp_earned": 1})
            assert receipt.delivered is None and activity.is_ended
            with pytest.raises(ValidationError):
                await client.activity.record(user=USER, activity=ACTIVITY,
                                             metrics={"xp_earned": None})
            assert await client.enqueue({"id": "urn:uuid:2"}) is True
            assert await client.pending() == [] and await client.flush()
            assert _threads() == before
        return before

    asyncio.run(main())
    assert fake.requests == [] and not outbox.exists()
