"""A seq is given again once the newest row has left: a late sender never touches the new row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from tests.sdk.test_outbox import event
from timeledger.sdk.outbox import Outbox, OutboxRow
from timeledger.testing import FakeClock

LATE: dict[str, Callable[[Outbox, OutboxRow, FakeClock], object]] = {
    "ack": lambda box, row, clock: box.ack([row]),
    "unlease": lambda box, row, clock: box.unlease([row]),
    "release": lambda box, row, clock: box.release([row], "HTTP 503"),
    "hold": lambda box, row, clock: box.hold(row, "HTTP 500", 1, clock.now() + timedelta(hours=1)),
    "bury": lambda box, row, clock: box.bury(row, "HTTP 400"),
}


def _delivered_by_another_sender(late: Outbox, other: Outbox, clock: FakeClock) -> None:
    clock.advance(late.lease_seconds + 1)  # the late sender's lease ran out
    other.ack(other.claim(10, 10_000))


def _dropped_for_the_bound(late: Outbox, other: Outbox, clock: FakeClock) -> None:
    other.add([event(9)])  # over `other`'s bound of 1: the oldest heartbeat, the claimed one, goes
    assert [row.event_id for row in other.pending()] == [event(9).event_id]
    other.ack(other.claim(10, 10_000))


GONE: dict[str, Callable[[Outbox, Outbox, FakeClock], None]] = {
    "delivered by another sender": _delivered_by_another_sender,
    "dropped for the bound": _dropped_for_the_bound,
}


@pytest.mark.parametrize("gone", GONE)
@pytest.mark.parametrize("late_call", LATE)
def test_a_late_call_on_a_row_that_left_never_touches_the_row_that_took_its_seq(
        tmp_path: Path, late_call: str, gone: str) -> None:
    path, clock = tmp_path / "outbox.sqlite3", FakeClock()
    late = Outbox(path, clock)
    other = Outbox(path, clock, max_events=1)
    late.add([event(1)])
    [stale] = late.claim(10, 10_000)
    GONE[gone](late, other, clock)
    other.add([event(2)])
    [newer] = other.claim(10, 10_000)
    assert newer.seq == stale.seq  # SQLite gave the emptied table's first seq again

    LATE[late_call](late, stale, clock)

    assert other.pending() == [newer]  # still queued: no attempt counted, no error, not held
    assert late.claim(10, 10_000) == []  # and still leased by the sender that has it
    assert other.dead() == []  # a row that left is not buried after it
    assert other.state(event(1).event_id) == ("delivered", None)  # its id is remembered as gone
    other.ack([newer])
    assert other.pending() == []
    late.close()
    other.close()
