"""The sync sender: runs delivery rounds over httpx.Client, inline or on a background thread."""

from __future__ import annotations

import logging
import threading
from typing import TypeVar

import httpx

from timeledger.sdk.auth import Exchange
from timeledger.sdk.delivery import Delivery, RoundResult
from timeledger.sdk.wire import HttpReply, HttpRequest

log = logging.getLogger("timeledger.sdk")
T = TypeVar("T")
MAX_ROUNDS = 10_000


def perform(http: httpx.Client, request: HttpRequest) -> HttpReply:
    try:
        response = http.request(request.method, request.url, headers=dict(request.headers),
                                content=request.content)
    except httpx.HTTPError as exc:
        return HttpReply(status=None, failure=f"{type(exc).__name__}: {exc}")
    return HttpReply(response.status_code, dict(response.headers), response.content)


def drive(exchange: Exchange[T], http: httpx.Client) -> T:
    """Run a sans-IO exchange to its result, making each request it yields."""
    try:
        request = next(exchange)
        while True:
            request = exchange.send(perform(http, request))
    except StopIteration as stop:
        result: T = stop.value
        return result


class Sender:
    """Runs rounds one at a time; `run_once()` is what a test calls to deliver deterministically."""

    def __init__(self, delivery: Delivery, http: httpx.Client) -> None:
        self.delivery = delivery
        self.http = http
        self._lock = threading.Lock()

    def run_once(self) -> RoundResult:
        """Claim one batch and send it (or do nothing while backing off); never sleeps."""
        with self._lock:
            return drive(self.delivery.round(), self.http)

    def run_until_idle(self) -> RoundResult:
        """Rounds until nothing is ready or the sender backs off."""
        total = RoundResult()
        for _ in range(MAX_ROUNDS):
            step = self.run_once()
            total = total + step
            if step.idle or step.blocked_until is not None:
                break
        return total


class SenderThread:
    """The background worker: wakes on new events, lingers to batch, backs off on failure."""

    def __init__(self, sender: Sender, *, batch_interval: float, poll_interval: float) -> None:
        self.sender = sender
        self.batch_interval = batch_interval
        self.poll_interval = poll_interval
        self._cond = threading.Condition()
        self._wake = False
        self._urgent = False
        self._stop = False
        self.rounds = 0
        self._thread = threading.Thread(target=self._loop, name="timeledger-sender", daemon=True)
        self._thread.start()

    def wake(self, urgent: bool = False) -> None:
        with self._cond:
            self._wake = True
            self._urgent = self._urgent or urgent
            self._cond.notify_all()

    def wait_progress(self, timeout: float) -> None:
        """Block until the worker finishes a batch of rounds, or `timeout` passes."""
        with self._cond:
            self._cond.wait(timeout)  # clock-ok: flush waits on the real worker

    def _timeout(self) -> float:
        return self.sender.delivery.seconds_until_due(self.poll_interval)

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._wake and not self._stop:
                    self._cond.wait(self._timeout())  # clock-ok
                if self._stop:
                    return
                urgent, self._wake, self._urgent = self._urgent, False, False
                if not urgent and self.batch_interval > 0:
                    self._cond.wait_for(lambda: self._urgent or self._stop,
                                        self.batch_interval)  # clock-ok: linger to batch
            try:
                self.sender.run_until_idle()
            except Exception:  # rows stay queued and are retried; logged
                log.exception("timeledger sender round failed; will retry")
            with self._cond:
                self.rounds += 1
                self._cond.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
