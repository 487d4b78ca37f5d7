"""The pace of Python's cyclic garbage collector in the long-running server processes.

By default Python collects its youngest generation every 700 net allocations of container
objects. One 100-event envelope makes tens of thousands (its decoded JSON, the checked events,
their rows), all alive until the reply: the collector runs dozens of times per request, frees
nothing (reference counting frees them once the request is done) and promotes them to the older
generations, whose collections walk the whole heap. Counted over HTTP (docs/scaling.md, section
6), the API process spent 213k instructions per event with the default and 187k with the
threshold below. The bound it leaves: cyclic garbage waits at most GEN0_THRESHOLD net
allocations for a collection, as it waited 700 before.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000


def pace_collector_for_serving() -> None:
    """Collect the youngest generation every GEN0_THRESHOLD net allocations, not every 700;
    the older generations keep their pace relative to it."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, older, oldest)
