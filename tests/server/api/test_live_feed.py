"""The explorer's live feed misses no event, even when PostgreSQL commits out of `seq` order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.ledger_world import (
    SENSOR,
    WAIT_S,
    HeldCommit,
    Ledger,
    activity,
    at,
    heartbeat,
    new_run,
)
from tests.support.platform import PlatformProcess
from timeledger.caliper.builders import envelope
from timeledger.server.dashboard.explorer import EventFilter, events_page
from timeledger.server.store.commit_order import LogCursor
from timeledger.server.store.schema import events

if TYPE_CHECKING:
    from tests.support.postgres import Backend

@pytest.fixture
def ledgers(backend: Backend, tmp_path: Path) -> Iterator[tuple[Ledger, Ledger]]:
    """Two platforms (two engines, as two processes have) on one database."""
    url = backend.new_db_url()
    first = Ledger(tmp_path, db_url=url)
    second = Ledger(tmp_path, db_url=url)
    yield first, second
    second.close()
    first.close()


def _poll(ledger: Ledger, cursor: str) -> tuple[list[str], str]:
    page: dict[str, Any] = ledger.read(events_page, EventFilter(),
                                       after=LogCursor.parse(cursor))
    return [e["eventId"] for e in page["events"]], page["cursor"]


def _stored(ledger: Ledger) -> dict[str, int]:
    """Every committed event id and its seq, read straight from the table."""
    return {row["event_id"]: row["seq"] for row in ledger.rows(events)}


def _event(email: str, minute: int) -> dict[str, Any]:
    """A window of a learner and course of its own, so concurrent writers share no row lock."""
    course = f"course-{minute}"
    return heartbeat(email, new_run(), at(f"2026-11-20T10:{minute:02d}:00"), 15,
                     act=activity(f"lesson-{minute}", course))


@pytest.mark.backends("pg")  # SQLite has one writer at a time: commits follow `seq` there
def test_an_event_committed_after_a_newer_one_still_reaches_the_feed(
        ledgers: tuple[Ledger, Ledger]) -> None:
    slow, quick = ledgers
    first = _event("first@example.edu", 0)
    slow.append(first)
    cursor = slow.read(events_page, EventFilter())["cursor"]

    held = HeldCommit(slow.platform.engine)
    late = _event("late@example.edu", 1)
    writer = threading.Thread(target=slow.append, args=(late,))
    writer.start()
    assert held.reached.wait(WAIT_S)
    early = _event("early@example.edu", 2)
    quick.append(early)  # commits first, with a higher seq than the held event's
    assert set(_stored(quick)) == {first["id"], early["id"]}  # `late` is not committed yet

    seen, cursor = _poll(quick, cursor)
    assert seen == []  # the held transaction might still commit rows before `early`
    held.release.set()
    writer.join(WAIT_S)
    seen, cursor = _poll(quick, cursor)
    assert sorted(seen) == sorted([late["id"], early["id"]])
    assert _poll(quick, cursor)[0] == []  # and each only once
    stored = _stored(quick)
    assert stored[late["id"]] < stored[early["id"]]  # the case the feed must survive


def test_polls_return_every_event_once_in_pages(ledgers: tuple[Ledger, Ledger]) -> None:
    ledger, _ = ledgers
    cursor = ledger.read(events_page, EventFilter())["cursor"]
    sent = [_event(f"learner{n}@example.edu", n) for n in range(7)]
    for event in sent:
        ledger.append(event)
    seen: list[str] = []
    for _ in range(4):  # pages of 3: 3 + 3 + 1, then nothing
        page = ledger.read(events_page, EventFilter(), after=LogCursor.parse(cursor), limit=3)
        seen += [e["eventId"] for e in reversed(page["events"])]
        cursor = page["cursor"]
    assert seen == [e["id"] for e in sent]


@pytest.mark.parametrize("token", ["", "x", "1.2.3", "-1", "3.-4"])
def test_a_cursor_token_is_checked(token: str) -> None:
    with pytest.raises(ValueError):
        LogCursor.parse(token)


@pytest.mark.parametrize("cursor", [LogCursor(0), LogCursor(41), LogCursor(7, 123456789012)])
def test_a_cursor_survives_its_token(cursor: LogCursor) -> None:
    assert LogCursor.parse(cursor.token()) == cursor


def test_the_feed_names_a_bad_cursor_and_answers_a_good_one(platform: PlatformProcess) -> None:
    bad = platform.http().get("/data/events", params={"after": "seven"})
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "after"
    start = platform.http().get("/data/events").json()["cursor"]
    event = _event("feed@example.edu", 3)
    assert platform.send(envelope(SENSOR, [event], at("2026-11-20T11:00:00"))).status_code == 200
    newer = platform.http().get("/data/events", params={"after": start}).json()
    assert event["id"] in [e["eventId"] for e in newer["events"]]
