"""The outbox holds at most `max_outbox_events`: oldest heartbeats go first, completions never."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.sdk.conftest import MATH, USER, make_client
from timeledger.sdk import EventsDroppedError
from timeledger.sdk.errors import ErrorContext, EventKind
from timeledger.sdk.outbox import Dropped, NewEvent, Outbox
from timeledger.testing import FakeClock, FakePlatform


def row(name: str, kind: EventKind) -> NewEvent:
    return NewEvent(f"urn:uuid:{name}", kind, "run", "https://a", b'{"id": "%s"}' % name.encode())


def test_two_processes_share_one_bound(tmp_path: Path) -> None:
    """The count lives in the file, so a bound holds over every connection that writes to it."""
    path, clock = tmp_path / "outbox.sqlite3", FakeClock()
    told: list[Dropped] = []
    one = Outbox(path, clock, max_events=5, on_drop=told.append)
    two = Outbox(path, clock, max_events=5, on_drop=told.append)
    one.add([row("c1", "completion"), row("h1", "heartbeat"), row("c2", "completion"),
             row("h2", "heartbeat"), row("c3", "completion")])
    assert told == []
    two.add([row("h3", "heartbeat")])
    assert told == [Dropped(("urn:uuid:h1",), {"heartbeat": 1})]
    one.add([row("e1", "event"), row("h4", "heartbeat")])
    assert told[-1] == Dropped(("urn:uuid:h2", "urn:uuid:h3"), {"heartbeat": 2})
    two.add([row("c4", "completion"), row("c5", "completion")])  # then other events go
    assert told[-1] == Dropped(("urn:uuid:e1", "urn:uuid:h4"), {"event": 1, "heartbeat": 1})
    assert [r.event_id for r in one.pending()] == [f"urn:uuid:c{n}" for n in range(1, 6)]
    one.add([row("c6", "completion")])  # completions only: kept past the bound
    assert len(told) == 3 and one.count_pending() == two.count_pending() == 6
    one.close()
    two.close()


def test_a_file_from_before_the_count_is_counted_when_opened(tmp_path: Path) -> None:
    path, clock = tmp_path / "outbox.sqlite3", FakeClock()
    first = Outbox(path, clock)
    first.add([row(f"h{n}", "heartbeat") for n in range(3)])
    first.close()
    with sqlite3.connect(path) as older:  # as an outbox written before the count existed
        older.executescript("DROP TRIGGER events_counted_in; DROP TRIGGER events_counted_out;"
                            " DROP TABLE outbox_size;")
    told: list[Dropped] = []
    reopened = Outbox(path, clock, max_events=2, on_drop=told.append)
    assert reopened.count_pending() == 3
    reopened.add([row("c1", "completion")])
    assert told == [Dropped(("urn:uuid:h0", "urn:uuid:h1"), {"heartbeat": 2})]
    reopened.close()


def test_the_client_tells_on_error_what_it_dropped(clock: FakeClock, fake: FakePlatform) -> None:
    heard: list[tuple[Exception, ErrorContext]] = []
    with make_client(clock, fake, max_outbox_events=3,
                     on_error=lambda error, context: heard.append((error, context))) as client:
        activity = client.activity.start(id="a", name="A", course=MATH, user=USER)
        clock.advance(60)  # four heartbeats: the first is dropped once they are written
        first = client.pending()  # a read writes what waits for the writer thread first
        [(error, context)] = heard
        assert isinstance(error, EventsDroppedError) and error.kinds == {"heartbeat": 1}
        assert "max_outbox_events=3" in str(error) and "dropped 1 events" in str(error)
        assert context.kind == "heartbeat" and context.event_id == error.event_ids[0]
        assert error.event_ids[0] not in {r.event_id for r in first} and len(first) == 3
        receipt = activity.end({"xp_earned": 1}, wait=False)
        assert len(heard) == 2  # the completion took the place of the oldest heartbeat left
        assert [r.kind for r in client.pending()] == ["heartbeat", "heartbeat", "completion"]
        assert client.flush()
    assert [e["id"] for e in fake.completions] == [receipt.completion_id]
    assert len(fake.time_spent) == 2


def test_max_outbox_events_from_the_environment(clock: FakeClock, fake: FakePlatform) -> None:
    heard: list[Exception] = []
    with make_client(clock, fake, environ={"TIMELEDGER_MAX_OUTBOX_EVENTS": "2"},
                     on_error=lambda error, context: heard.append(error)) as client:
        assert client.options.max_outbox_events == 2
        client.activity.start(id="a", name="A", course=MATH, user=USER)
        clock.advance(45)
        assert len(client.pending()) == 2 and len(heard) == 1
