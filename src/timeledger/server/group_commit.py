"""Group commit: work that arrives together is written in one transaction, by one of its callers.

Each caller submits its item and blocks. Whoever holds the writer lock takes every item waiting
(up to a budget) and runs them as one batch, so a store that pays per commit (SQLite's WAL
writes and checkpoints, PostgreSQL's round trips) pays once for many requests. Nobody returns
before the batch holding their item is committed. There is no timer and no background thread:
a lone caller runs at once, in a batch of one.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(slots=True)
class _Ticket(Generic[Item, Result]):
    item: Item
    done: bool = False
    result: Result | None = None
    error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Runs `write(items)` (one transaction, one result per item, in order) for waiting callers.

    A failing batch of several is retried one item at a time, so one caller's bad item is that
    caller's error alone."""

    def __init__(self, write: Callable[[Sequence[Item]], Sequence[Result]],
                 size: Callable[[Item], int], budget: int) -> None:
        self._write = write
        self._size = size
        self._budget = budget
        self._waiting: deque[_Ticket[Item, Result]] = deque()
        self._queue_changed = threading.Condition()
        self._writer = threading.Lock()

    def submit(self, item: Item) -> Result:
        return self.submit_many([item])[0]

    def submit_many(self, items: Sequence[Item]) -> list[Result]:
        """Queue `items` together (one batch where the budget allows) and wait for them all."""
        tickets: list[_Ticket[Item, Result]] = [_Ticket(item) for item in items]
        with self._queue_changed:
            self._waiting.extend(tickets)
            self._queue_changed.notify_all()
        while not all(ticket.done for ticket in tickets):
            with self._writer:
                if not all(ticket.done for ticket in tickets):
                    self._run(self._take())
        for ticket in tickets:
            if ticket.error is not None:
                raise ticket.error
        return [ticket.result for ticket in tickets]  # type: ignore[misc]

    def wait_for_waiting(self, count: int, timeout: float) -> bool:
        """Block until at least `count` items wait for the writer (for tests and monitoring)."""
        with self._queue_changed:
            return self._queue_changed.wait_for(lambda: len(self._waiting) >= count, timeout)

    def _take(self) -> list[_Ticket[Item, Result]]:
        """The oldest waiting tickets, at least one, within the budget."""
        taken: list[_Ticket[Item, Result]] = []
        used = 0
        with self._queue_changed:
            while self._waiting:
                cost = self._size(self._waiting[0].item)
                if taken and used + cost > self._budget:
                    break
                taken.append(self._waiting.popleft())
                used += cost
        return taken

    def _run(self, batch: list[_Ticket[Item, Result]]) -> None:
        try:
            try:
                self._settle(batch, self._write([t.item for t in batch]))
            except Exception as exc:
                if len(batch) == 1:
                    batch[0].error = exc
                else:
                    for ticket in batch:
                        self._run([ticket])
        except BaseException as exc:  # e.g. KeyboardInterrupt: nobody may wait forever
            for ticket in batch:
                if not ticket.done and ticket.error is None:
                    ticket.error = exc
            raise
        finally:
            for ticket in batch:
                ticket.done = True

    @staticmethod
    def _settle(batch: list[_Ticket[Item, Result]], results: Sequence[Result]) -> None:
        if len(results) != len(batch):
            raise AssertionError(f"{len(batch)} items gave {len(results)} results")
        for ticket, result in zip(batch, results, strict=True):
            ticket.result = result
