"""Time as the SDK reads it: wall time for timestamps, a monotonic count for durations."""

from __future__ import annotations

import time  # clock-ok: the one place the SDK reads real time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Injected everywhere the SDK needs the time."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()  # clock-ok


class FakeClock:
    """A clock tests move by hand; `advance()` also fires the timers of attached manual schedulers.

    Timers fire in due order with the clock set to each timer's due time, so advancing 60 s with a
    15 s heartbeat produces the four windows a real minute would.
    """

    def __init__(self, start: datetime | None = None, monotonic_start: float = 1000.0) -> None:
        self._wall = start or datetime(2025, 1, 15, 10, 0, tzinfo=UTC)
        if self._wall.tzinfo is None:
            raise ValueError("FakeClock needs an aware start time")
        self._mono = monotonic_start
        self._listeners: list[TimerSource] = []

    def now(self) -> datetime:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def attach(self, source: TimerSource) -> None:
        """Let `advance()` fire this source's timers (a ManualScheduler attaches itself)."""
        self._listeners.append(source)

    def _move_to(self, mono: float) -> None:
        self._wall += timedelta(seconds=mono - self._mono)
        self._mono = mono

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every attached timer that falls due on the way."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        target = self._mono + seconds
        while True:
            dues = [(due, source) for source in self._listeners
                    if (due := source.next_due()) is not None and due <= target]
            if not dues:
                break
            due, source = min(dues, key=lambda pair: pair[0])
            self._move_to(max(due, self._mono))
            source.fire_due()
        self._move_to(target)


class TimerSource(Protocol):
    def next_due(self) -> float | None: ...

    def fire_due(self) -> None: ...
