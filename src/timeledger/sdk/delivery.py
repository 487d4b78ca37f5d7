"""One delivery round, sans-IO: claim a batch, send it, settle every event's fate in the outbox.

The round is a generator that yields HTTP requests and is sent the replies, so the sync sender
(httpx.Client on a thread) and the async sender (httpx.AsyncClient on a loop) share every rule:
batching, the single 401 retry, isolating a bad event from its neighbours after a 400, backoff
with jitter, Retry-After, and dead letters.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from timeledger.sdk.auth import Exchange, TokenCache
from timeledger.sdk.clock import Clock
from timeledger.sdk.errors import AuthError, DeliveryError, TransientDeliveryError
from timeledger.sdk.outbox import Outbox, OutboxRow
from timeledger.sdk.wire import (
    HttpReply,
    delivery_error,
    envelope_bytes,
    event_request,
    retry_after,
    verdict,
)

MAX_RETRY_AFTER = 600.0


class DeliveryListener(Protocol):
    """Told about each event's fate (on the sender's thread or loop)."""

    def delivered(self, rows: Sequence[OutboxRow]) -> None: ...

    def failed(self, rows: Sequence[OutboxRow], error: DeliveryError) -> None: ...

    def rejected(self, row: OutboxRow, error: DeliveryError) -> None: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter: attempt n waits base·2ⁿ⁻¹ (≤ cap), times 0.5–1."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, failures: int, rng: random.Random) -> float:
        raw: float = min(self.cap, self.base * 2.0 ** max(failures - 1, 0))
        return raw * (0.5 + rng.random() / 2)


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What a round did; `blocked_until` (monotonic) is set while backing off."""

    delivered: int = 0
    rejected: int = 0
    failed: int = 0
    idle: bool = False
    blocked_until: float | None = None

    @property
    def progressed(self) -> bool:
        return self.delivered > 0 or self.rejected > 0


@dataclass(slots=True)
class _Outcome:
    kind: str  # ok | transient | rejected
    reply: HttpReply | None
    error: DeliveryError | None


class Delivery:
    """The sending rules, shared by the sync and async senders."""

    def __init__(self, outbox: Outbox, tokens: TokenCache, url: str, clock: Clock,
                 listener: DeliveryListener, *, max_events: int = 100,
                 max_bytes: int = 512 * 1024, backoff: Backoff | None = None,
                 rng: random.Random | None = None) -> None:
        self.outbox = outbox
        self.tokens = tokens
        self.url = url
        self.clock = clock
        self.listener = listener
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()
        self.failures = 0
        self.blocked_until: float | None = None
        self.requests = 0

    def blocked(self) -> bool:
        return self.blocked_until is not None and self.clock.monotonic() < self.blocked_until

    def round(self) -> Exchange[RoundResult]:
        """Send one batch (or, after a 400, each of its events alone) and settle them."""
        if self.blocked():
            return RoundResult(blocked_until=self.blocked_until)
        rows = self.outbox.claim(self.max_events, self.max_bytes)
        if not rows:
            return RoundResult(idle=True)
        outcome = yield from self._send(rows)
        if outcome.kind == "ok":
            self._settle_ok(rows)
            return RoundResult(delivered=len(rows))
        if outcome.kind == "transient":
            return self._settle_transient(rows, outcome)
        if len(rows) == 1:
            self._settle_rejected(rows[0], outcome)
            return RoundResult(rejected=1)
        return (yield from self._isolate(rows))

    def _isolate(self, rows: Sequence[OutboxRow]) -> Exchange[RoundResult]:
        """A rejected batch: send its events one by one so only the bad ones become dead."""
        delivered = rejected = 0
        for index, row in enumerate(rows):
            outcome = yield from self._send([row])
            if outcome.kind == "ok":
                self._settle_ok([row])
                delivered += 1
            elif outcome.kind == "rejected":
                self._settle_rejected(row, outcome)
                rejected += 1
            else:
                result = self._settle_transient(rows[index:], outcome)
                return RoundResult(delivered=delivered, rejected=rejected, failed=result.failed,
                                   blocked_until=result.blocked_until)
        return RoundResult(delivered=delivered, rejected=rejected)

    def _send(self, rows: Sequence[OutboxRow]) -> Exchange[_Outcome]:
        body = envelope_bytes(rows[0].sensor, [row.body for row in rows], self.clock.now())
        for attempt in (1, 2):
            try:
                token = yield from self.tokens.token()
            except DeliveryError as error:
                return _Outcome("transient", None, error)
            self.requests += 1
            reply = yield event_request(self.url, token, body)
            kind = verdict(reply)
            if kind == "unauthorized":
                self.tokens.invalidate(token)
                if attempt == 1 and token is not None:
                    continue
                return _Outcome("transient", reply, delivery_error(reply))
            return _Outcome(kind, reply, None if kind == "ok" else delivery_error(reply))
        raise AssertionError("unreachable")

    def _settle_ok(self, rows: Sequence[OutboxRow]) -> None:
        self.outbox.ack(rows)
        self.failures = 0
        self.blocked_until = None
        self.listener.delivered(rows)

    def _settle_rejected(self, row: OutboxRow, outcome: _Outcome) -> None:
        error = outcome.error or delivery_error(HttpReply(status=400))
        self.outbox.bury(row, str(error))
        self.listener.rejected(row, error)

    def _settle_transient(self, rows: Sequence[OutboxRow], outcome: _Outcome) -> RoundResult:
        error = outcome.error or TransientDeliveryError("delivery failed")
        updated = self.outbox.release(rows, str(error))
        self.failures += 1
        delay = self.backoff.delay(self.failures, self.rng)
        if outcome.reply is not None:
            asked = retry_after(outcome.reply, self.clock.now())
            if asked is not None:
                delay = max(delay, min(asked, MAX_RETRY_AFTER))
        if isinstance(error, AuthError):
            delay = max(delay, self.backoff.cap)
        self.blocked_until = self.clock.monotonic() + delay
        self.listener.failed(updated, error)
        return RoundResult(failed=len(rows), blocked_until=self.blocked_until)
