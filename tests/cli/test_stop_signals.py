"""`timeledger project`'s stop signal: its handler takes no lock, so it cannot deadlock the loop
it interrupts (it did: the handler set an Event while its own thread held that Event's lock)."""

from __future__ import annotations

import threading

import pytest

from timeledger.cli.stop_signals import StopSignals

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast


def test_the_handler_completes_while_its_thread_holds_the_lock_of_the_wait() -> None:
    stop = StopSignals()

    def interrupted_inside_the_wait() -> None:
        # Event.wait holds this lock (CPython's, not typed) around its bookkeeping.
        with stop._pause._cond:  # type: ignore[attr-defined]
            stop.request()

    handler = threading.Thread(target=interrupted_inside_the_wait, daemon=True)
    handler.start()
    handler.join(timeout=10)  # a bound on a failure, not a pause: it returns at once
    assert not handler.is_alive(), "the stop handler waited for a lock its own thread held"
    assert stop.requested


def test_a_stop_is_seen_at_the_next_turn_and_waiting_does_not_clear_it() -> None:
    stop = StopSignals()
    assert not stop.requested
    stop.wait(0)
    stop.request()
    stop.wait(0)
    assert stop.requested
