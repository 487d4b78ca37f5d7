"""GroupCommit with real threads: who waits is written together, and a bad item fails alone."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from timeledger.server.group_commit import GroupCommit

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast

WAIT = 10.0


class Store:
    """A write function that records its batches; the first batch can be held open."""

    def __init__(self, hold_first: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def write(self, items: Sequence[str]) -> list[str]:
        self.entered.set()
        assert self.release.wait(WAIT)
        if any(item.startswith("bad") for item in items):
            raise ValueError(f"refused {[i for i in items if i.startswith('bad')]}")
        self.batches.append(list(items))
        return [item.upper() for item in items]


def held_open(store: Store, group: GroupCommit[str, str], pool: ThreadPoolExecutor,
              later: list[str]) -> tuple[Future[str], list[Future[str]]]:
    """'first' is being written while each of `later` queues behind it, in this order."""
    first = pool.submit(group.submit, "first")
    assert store.entered.wait(WAIT)
    queued: list[Future[str]] = []
    for count, item in enumerate(later, start=1):
        queued.append(pool.submit(group.submit, item))
        assert group.wait_for_waiting(count, WAIT)
    store.release.set()
    return first, queued


def test_a_lone_item_is_written_at_once_in_a_batch_of_one() -> None:
    store = Store()
    group: GroupCommit[str, str] = GroupCommit(store.write, len, budget=100)

    assert group.submit("alone") == "ALONE"
    assert store.batches == [["alone"]]


def test_items_that_wait_behind_a_write_go_together_in_the_next_one() -> None:
    store = Store(hold_first=True)
    group: GroupCommit[str, str] = GroupCommit(store.write, len, budget=100)
    with ThreadPoolExecutor(4) as pool:
        first, queued = held_open(store, group, pool, ["b", "c", "d"])
        answers = [first.result(WAIT)] + [f.result(WAIT) for f in queued]

    assert answers == ["FIRST", "B", "C", "D"]
    assert store.batches == [["first"], ["b", "c", "d"]]


def test_a_batch_stops_at_the_budget_and_the_rest_follows() -> None:
    store = Store(hold_first=True)
    group: GroupCommit[str, str] = GroupCommit(store.write, len, budget=6)
    with ThreadPoolExecutor(5) as pool:
        first, queued = held_open(store, group, pool, ["aaa", "bbb", "ccc", "ddddddddd"])
        answers = [f.result(WAIT) for f in [first, *queued]]

    assert answers == ["FIRST", "AAA", "BBB", "CCC", "DDDDDDDDD"]
    # An item over the budget on its own still goes, alone.
    assert store.batches == [["first"], ["aaa", "bbb"], ["ccc"], ["ddddddddd"]]


def test_a_bad_item_fails_its_own_caller_and_the_others_are_written() -> None:
    store = Store(hold_first=True)
    group: GroupCommit[str, str] = GroupCommit(store.write, len, budget=100)
    with ThreadPoolExecutor(4) as pool:
        first, (good, bad, other) = held_open(store, group, pool, ["good", "bad-one", "other"])
        assert first.result(WAIT) == "FIRST"
        assert (good.result(WAIT), other.result(WAIT)) == ("GOOD", "OTHER")
        with pytest.raises(ValueError, match="bad-one"):
            bad.result(WAIT)

    assert store.batches == [["first"], ["good"], ["other"]]


def test_submit_many_writes_its_items_together_and_answers_in_order() -> None:
    store = Store()
    group: GroupCommit[str, str] = GroupCommit(store.write, len, budget=100)

    assert group.submit_many(["x", "y", "z"]) == ["X", "Y", "Z"]
    assert store.batches == [["x", "y", "z"]]


def test_an_interrupt_inside_a_write_reaches_every_caller_of_that_batch() -> None:
    calls = 0

    def write(items: Sequence[str]) -> list[str]:
        nonlocal calls
        calls += 1
        raise KeyboardInterrupt

    group: GroupCommit[str, str] = GroupCommit(write, len, budget=100)
    with pytest.raises(KeyboardInterrupt):
        group.submit_many(["a", "b"])
    assert calls == 1  # not retried item by item: an interrupt is not a bad item
