"""One delivery round, sans-IO: claim a batch, send it, settle every event's fate in the outbox.

The round is a generator that yields HTTP requests and is sent the replies, so the sync sender
(httpx.Client on a thread) and the async sender (httpx.AsyncClient on a loop) share every rule:
batching, the single 401 retry, backoff with jitter, Retry-After, splitting an envelope until a
bad event is alone, holding an event that fails alone, and dead letters.

How a round treats an envelope the platform did not accept:
- an outage (network, 408, 429, 503, Retry-After) or a misdirected request (403, 404...): every
  event stays queued and the sender backs off;
- a refusal (400/409/422) that names events (`data[i]`): those go alone, the rest together; one
  that names none, a 413 and any other 5xx: the envelope is halved, down to one event;
- an event refused alone is a dead letter; an event that fails alone with a 5xx is *held* (sent
  again alone, after a backoff of its own, when nothing else is ready) and gets a strike when the
  platform is seen taking other events meanwhile. `max_failures_alone` strikes, or a failure after
  `max_event_age`, make it a dead letter. Without that evidence (every envelope failing) it is an
  outage: no strike, and the sender backs off.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Protocol

from timeledger.sdk.auth import Exchange, TokenCache
from timeledger.sdk.clock import Clock
from timeledger.sdk.errors import (
    AuthError,
    DeliveryError,
    TransientDeliveryError,
    UndeliverableError,
)
from timeledger.sdk.outbox import DeadReason, Outbox, OutboxRow
from timeledger.sdk.wire import (
    HttpReply,
    Verdict,
    delivery_error,
    envelope_bytes,
    event_request,
    refused_indexes,
    retry_after,
    verdict,
)

MAX_RETRY_AFTER = 600.0
DEFAULT_MAX_FAILURES_ALONE = 8
DEFAULT_MAX_EVENT_AGE = 7 * 86400.0


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
class DeadLetterRule:
    """When the sender gives up on an event that was not refused."""

    max_failures_alone: int = DEFAULT_MAX_FAILURES_ALONE
    max_event_age: float = DEFAULT_MAX_EVENT_AGE


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What a round did; `blocked_until` (monotonic) is set while backing off.

    `dead` events became dead letters, `held` events failed alone and wait their turn, `failed`
    events stay queued after a failure.
    """

    delivered: int = 0
    dead: int = 0
    held: int = 0
    failed: int = 0
    idle: bool = False
    blocked_until: float | None = None

    @property
    def progressed(self) -> bool:
        return self.delivered > 0 or self.dead > 0

    def __add__(self, step: RoundResult) -> RoundResult:
        """Totals of two rounds, with the state (idle, blocked) of the later one."""
        return RoundResult(self.delivered + step.delivered, self.dead + step.dead,
                           self.held + step.held, self.failed + step.failed, step.idle,
                           step.blocked_until)


@dataclass(slots=True)
class _Outcome:
    kind: Verdict
    reply: HttpReply | None
    error: DeliveryError | None


@dataclass(slots=True)
class _Tally:
    """One round so far: counts, and the last error of each row that failed in it."""

    delivered: int = 0
    dead: int = 0
    held: int = 0
    failed: int = 0
    accepted: bool = False
    errors: dict[int, DeliveryError] = field(default_factory=dict)
    # rows that stay queued after failing, told to the listener when the round ends
    unsent: list[tuple[list[OutboxRow], DeliveryError]] = field(default_factory=list)


class Delivery:
    """The sending rules, shared by the sync and async senders."""

    def __init__(self, outbox: Outbox, tokens: TokenCache, url: str, clock: Clock,
                 listener: DeliveryListener, *, max_events: int = 100,
                 max_bytes: int = 512 * 1024, backoff: Backoff | None = None,
                 rule: DeadLetterRule | None = None, rng: random.Random | None = None) -> None:
        self.outbox = outbox
        self.tokens = tokens
        self.url = url
        self.clock = clock
        self.listener = listener
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.backoff = backoff or Backoff()
        self.rule = rule or DeadLetterRule()
        self.rng = rng or random.Random()
        self.failures = 0
        self.blocked_until: float | None = None
        self.requests = 0
        # Whether the platform was last seen taking events: set by an acceptance, cleared by an
        # outage or an envelope failing without a culprit found yet. Unknown (False) at start.
        self.platform_ok = False

    def blocked(self) -> bool:
        return self.blocked_until is not None and self.clock.monotonic() < self.blocked_until

    def seconds_until_due(self, limit: float) -> float:
        """How long a worker may sleep before a round can do something (at most `limit`)."""
        wait = limit
        if self.blocked():
            assert self.blocked_until is not None
            wait = min(wait, self.blocked_until - self.clock.monotonic())
        hold_end = self.outbox.next_hold_end()
        if hold_end is not None:
            wait = min(wait, (hold_end - self.clock.now()).total_seconds())
        return max(wait, 0.0)

    def round(self) -> Exchange[RoundResult]:
        """Send one batch (splitting it while it fails) and settle every event in it."""
        if self.blocked():
            return RoundResult(blocked_until=self.blocked_until)
        rows = self.outbox.claim(self.max_events, self.max_bytes)
        if not rows:
            return RoundResult(idle=True)
        tally = _Tally()
        work: deque[list[OutboxRow]] = deque([rows])
        while work:
            group = work.popleft()
            outcome = yield from self._send(group)
            if outcome.kind == "ok":
                self._settle_ok(group, tally)
                continue
            error = outcome.error or TransientDeliveryError("delivery failed")
            if outcome.kind in ("outage", "misdirected", "unauthorized"):
                self.platform_ok = False
                return self._back_off(group, [row for rest in work for row in rest], outcome,
                                      error, tally)
            for row in group:
                tally.errors[row.seq] = error
            if len(group) > 1:
                if outcome.kind == "failing":
                    self.platform_ok = False
                work.extendleft(reversed(self._split(group, outcome)))
                continue
            row = group[0]
            if outcome.kind != "failing":
                self._bury(row, error, "rejected", tally)
                continue
            confirmed = tally.accepted or (row.held and self.platform_ok)
            self._settle_alone(row, error, confirmed, tally)
            if not confirmed:  # no sign the platform takes anything: an outage, not this event
                self.platform_ok = False
                return self._back_off([], [r for rest in work for r in rest], outcome, error,
                                      tally)
        return self._finish(tally, blocked_until=None)

    def _split(self, group: list[OutboxRow], outcome: _Outcome) -> list[list[OutboxRow]]:
        """The parts to send next: the events a refusal names alone, the rest together; or
        halves."""
        if outcome.kind == "rejected" and outcome.reply is not None:
            named = refused_indexes(outcome.reply)
            if named and max(named) < len(group):
                rest = [row for index, row in enumerate(group) if index not in named]
                return [[group[index]] for index in sorted(named)] + ([rest] if rest else [])
        middle = (len(group) + 1) // 2
        return [group[:middle], group[middle:]]

    def _send(self, rows: Sequence[OutboxRow]) -> Exchange[_Outcome]:
        body = envelope_bytes(rows[0].sensor, [row.body for row in rows], self.clock.now())
        for attempt in (1, 2):
            try:
                token = yield from self.tokens.token()
            except DeliveryError as error:
                kind: Verdict = "misdirected" if isinstance(error, AuthError) else "outage"
                return _Outcome(kind, None, error)
            self.requests += 1
            reply = yield event_request(self.url, token, body)
            kind = verdict(reply)
            if kind == "unauthorized":
                self.tokens.invalidate(token)
                if attempt == 1 and token is not None:
                    continue
            return _Outcome(kind, reply, None if kind == "ok" else delivery_error(reply))
        raise AssertionError("unreachable")

    def _expired(self, row: OutboxRow) -> bool:
        return self.clock.now().timestamp() - row.queued_at >= self.rule.max_event_age

    def _settle_ok(self, rows: Sequence[OutboxRow], tally: _Tally) -> None:
        self.outbox.ack(rows)
        self.failures = 0
        self.blocked_until = None
        self.platform_ok = tally.accepted = True
        tally.delivered += len(rows)
        self.listener.delivered(rows)

    def _bury(self, row: OutboxRow, error: DeliveryError, reason: DeadReason,
              tally: _Tally) -> None:
        if reason == "failed_alone":
            error = UndeliverableError(
                f"Gave up after the platform failed on this event alone"
                f" {self.rule.max_failures_alone} times; last: {error}",
                reason=reason, last=error)
        elif reason == "expired":
            error = UndeliverableError(
                f"Gave up on an event queued more than {self.rule.max_event_age:g} s ago"
                f" (max_event_age); last: {error}", reason=reason, last=error)
        self.outbox.bury(row, str(error), reason, error.status)
        tally.dead += 1
        self.listener.rejected(replace(row, attempts=row.attempts + 1, last_error=str(error)),
                               error)

    def _settle_alone(self, row: OutboxRow, error: DeliveryError, confirmed: bool,
                      tally: _Tally) -> None:
        """An event failed alone with a 5xx: a strike if confirmed; hold it, or give it up."""
        strikes = row.strikes + 1 if confirmed else row.strikes
        if strikes >= self.rule.max_failures_alone:
            self._bury(row, error, "failed_alone", tally)
        elif self._expired(row):
            self._bury(row, error, "expired", tally)
        else:
            until = self.clock.now() + timedelta(
                seconds=self.backoff.delay(strikes + 1, self.rng))
            tally.unsent.append(([self.outbox.hold(row, str(error), strikes, until)], error))
            tally.held += 1

    def _back_off(self, group: Sequence[OutboxRow], waiting: Sequence[OutboxRow],
                  outcome: _Outcome, error: DeliveryError, tally: _Tally) -> RoundResult:
        """Nothing more this round: the rows sent last and those waiting their turn (all were in
        an envelope that failed) stay queued, each with an attempt counted, and the sender waits."""
        tally.errors.update({row.seq: error for row in group})
        by_error: dict[int, tuple[DeliveryError, list[OutboxRow]]] = {}
        for row in [*group, *waiting]:
            last = tally.errors.get(row.seq, error)
            if self._expired(row):
                self._bury(row, last, "expired", tally)
            else:
                by_error.setdefault(id(last), (last, []))[1].append(row)
        for last, rows in by_error.values():  # one write for the rows of each error
            tally.unsent.append((self.outbox.release(rows, str(last)), last))
            tally.failed += len(rows)
        self.failures += 1
        delay = self.backoff.delay(self.failures, self.rng)
        if outcome.reply is not None:
            asked = retry_after(outcome.reply, self.clock.now())
            if asked is not None:
                delay = max(delay, min(asked, MAX_RETRY_AFTER))
        if outcome.kind in ("misdirected", "unauthorized"):  # waits for a fixed configuration
            delay = max(delay, self.backoff.cap)
        self.blocked_until = self.clock.monotonic() + delay
        return self._finish(tally, blocked_until=self.blocked_until)

    def _finish(self, tally: _Tally, blocked_until: float | None) -> RoundResult:
        for rows, error in tally.unsent:
            self.listener.failed(rows, error)
        return RoundResult(delivered=tally.delivered, dead=tally.dead, held=tally.held,
                           failed=tally.failed, blocked_until=blocked_until)
