"""The outbox holds at most `max_outbox_events`: oldest heartbeats go first, completions never."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_the_bound_counts_the_rows_not_the_span_of_their_seqs(tmp_path: Path) -> None:
    """Rows delivered out of order leave gaps in the seqs: three rows over seqs 1 to 6 are three."""
    path, clock = tmp_path / "outbox.sqlite3", FakeClock()
    filler = Outbox(path, clock)
    filler.add([row("c1", "completion"), row("h1", "heartbeat"), row("e1", "event"),
                row("e2", "event"), row("e3", "event"), row("c2", "completion")])
    claimed = filler.claim(10, 100_000)
    filler.ack(claimed[2:5])
    filler.unlease(claimed[:2] + claimed[5:])
    assert [(r.seq, r.event_id) for r in filler.pending()] == [
        (1, "urn:uuid:c1"), (2, "urn:uuid:h1"), (6, "urn:uuid:c2")]
    told: list[Dropped] = []
    box = Outbox(path, clock, max_events=4, on_drop=told.append)
    box.add([row("h2", "heartbeat")])  # four rows: at the bound, not past it
    assert told == [] and box.count_pending() == 4
    box.add([row("h3", "heartbeat")])  # five: the oldest heartbeat goes, one
    assert told == [Dropped(("urn:uuid:h1",), {"heartbeat": 1})]
    box.add([row("c3", "completion"), row("c4", "completion")])  # six: two heartbeats go
    assert told[-1] == Dropped(("urn:uuid:h2", "urn:uuid:h3"), {"heartbeat": 2})
    box.add([row("c5", "completion")])  # completions only: kept past the bound
    assert len(told) == 2
    assert [r.event_id for r in box.pending()] == [f"urn:uuid:c{n}" for n in range(1, 6)]
    filler.close()
    box.close()


@pytest.mark.parametrize("acker", ["the same outbox", "another connection"])
def test_a_count_kept_from_the_last_commit_is_not_trusted_after_another_write(
        tmp_path: Path, acker: str) -> None:
    """Near the bound an outbox reuses the count its last queueing commit left, unless another
    of its transactions or another connection wrote since: then it counts again."""
    path, clock = tmp_path / "outbox.sqlite3", FakeClock()
    told: list[Dropped] = []
    box = Outbox(path, clock, max_events=4, on_drop=told.append)
    other = Outbox(path, clock) if acker == "another connection" else box
    box.add([row("c1", "completion"), row("h1", "heartbeat"), row("h2", "heartbeat"),
             row("c2", "completion")])
    box.add([row("h3", "heartbeat")])  # five over seqs 1-5: counted, h1 goes, four are left
    assert told == [Dropped(("urn:uuid:h1",), {"heartbeat": 1})]
    claimed = other.claim(10, 100_000)
    other.ack([r for r in claimed if r.event_id == "urn:uuid:h2"])  # three left, over seqs 1-5
    other.unlease([r for r in claimed if r.event_id != "urn:uuid:h2"])
    box.add([row("h4", "heartbeat")])  # four: at the bound, nothing goes
    assert len(told) == 1 and box.count_pending() == 4
    box.add([row("h5", "heartbeat")])  # five again: the count carried on is right, h3 goes
    assert told[-1] == Dropped(("urn:uuid:h3",), {"heartbeat": 1})
    assert [r.event_id for r in box.pending()] == [
        "urn:uuid:c1", "urn:uuid:c2", "urn:uuid:h4", "urn:uuid:h5"]
    box.close()
    other.close()


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
