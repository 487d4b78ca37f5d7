"""Failed sign-ins counted per key over a sliding window, in bounded memory, on a given clock."""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEY_CHARS = 256


@dataclass(frozen=True, slots=True)
class FailureLimit:
    """At most `failures` failed attempts within any `window_s` seconds."""

    failures: int
    window_s: float


class FailedAttempts:
    """Remembers the last `limit.failures` failure times of up to `max_keys` keys (least
    recently failing keys are forgotten first). Used from the event loop only: no locking."""

    def __init__(self, limit: FailureLimit, now: Callable[[], float],
                 max_keys: int = 10_000) -> None:
        if limit.failures < 1 or limit.window_s <= 0:
            raise ValueError(f"A failure limit needs failures >= 1 and a window > 0: {limit}")
        self.limit = limit
        self._now = now
        self._max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str) -> int | None:
        """Whole seconds until `key` may try again, or None when it may try now."""
        times = self._failures.get(key[:MAX_KEY_CHARS])
        if times is None or len(times) < self.limit.failures:
            return None
        wait = times[0] + self.limit.window_s - self._now()
        return math.ceil(wait) if wait > 0 else None

    def record(self, key: str) -> None:
        key = key[:MAX_KEY_CHARS]
        times = self._failures.get(key)
        if times is None:
            times = self._failures[key] = deque(maxlen=self.limit.failures)
        self._failures.move_to_end(key)
        times.append(self._now())
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)
