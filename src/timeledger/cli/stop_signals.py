"""A stop asked for by SIGTERM or SIGINT, which the signal handler records without a lock."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """Python runs a signal handler in the main thread between two bytecodes, possibly while
    that thread holds the lock inside `threading.Event.wait`. A handler that sets an Event then
    waits for that lock forever: a `timeledger project` told to stop hung, and outlived the
    `serve` that had started it. This handler only sets a flag, which the loop reads at its next
    turn, after at most one `wait`."""

    def __init__(self) -> None:
        self.requested = False
        self._pause = threading.Event()  # never set: `wait` is a pause no handler takes part in

    def install(self, signals: Iterable[signal.Signals] = STOP_SIGNALS) -> StopSignals:
        for signum in signals:
            signal.signal(signum, self.request)
        return self

    def request(self, *_signal: object) -> None:
        self.requested = True

    def wait(self, seconds: float) -> None:
        self._pause.wait(seconds)
