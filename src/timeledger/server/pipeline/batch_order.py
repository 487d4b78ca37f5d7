"""Which of two events came first in the log: the order a batch was read in, not seq's.

On PostgreSQL the log runs in (xact, seq) order (store/commit_order.py), so an event with a
higher seq may come first; rebuild replays that order cut into batches of its own, so every
"which came first" a projection asks must be answered in it to come out the same live.
"""

from __future__ import annotations

from collections.abc import Sequence

from timeledger.server.pipeline.prepared import Prepared


class BatchOrder:
    """The places of a batch's events in the log's order, built when first asked. A row the
    batch finds stored came before all of them: it was projected by an earlier batch (a
    learner's events stay in one partition, which one projector holds at a time)."""

    __slots__ = ("_items", "_places")

    def __init__(self, items: Sequence[Prepared]) -> None:
        """`items`: the batch's events (or a subset), in the order read_batch gave them."""
        self._items = items
        self._places: dict[int, int] | None = None

    def place(self, seq: int) -> int:
        """Where event `seq` is among `items`; -1 for an event stored before the batch."""
        if self._places is None:
            self._places = {item.seq: n for n, item in enumerate(self._items)}
        return self._places.get(seq, -1)

    def before(self, seq: int, other: int) -> bool:
        """Whether event `seq` (of the batch, or stored) came before the batch's event `other`."""
        return self.place(seq) < self.place(other)
