"""The SDK's exceptions: validation before sending, and what delivery reports afterwards."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from timeledger.caliper.errors import CaliperError


class TimeledgerError(Exception):
    """Base class of every error the SDK raises."""


class ValidationError(TimeledgerError, ValueError):
    """Input that cannot be sent; `field` names it in snake_case (`metrics.correct_questions`)."""

    def __init__(self, field: str, message: str, code: str = "INVALID_PAYLOAD") -> None:
        self.field = field
        self.message = message
        self.code = code
        super().__init__(f"{field}: {message}" if field else message)

    @classmethod
    def from_caliper(cls, error: CaliperError) -> ValidationError:
        """The first problem of a caliper error, as the Python API names it."""
        problem = error.problems[0]
        return cls(problem.path, problem.message)


class ActivityInProgressError(TimeledgerError, RuntimeError):
    """`activity.start()` while this client already tracks an activity."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"Another activity is already in progress (run {run_id})")


class ActivityEndedError(TimeledgerError, RuntimeError):
    """`end()` on an activity that already ended."""


class ClientClosedError(TimeledgerError, RuntimeError):
    """The client was closed; nothing more can be queued through it."""


class ConfigurationError(TimeledgerError, ValueError):
    """The client cannot work as configured (no base URL, no config file, no sensor...)."""


class DeliveryError(TimeledgerError):
    """The platform did not accept an event: `status` is the HTTP status (None for the network)."""

    def __init__(self, message: str, *, status: int | None = None, description: str | None = None,
                 details: Sequence[Mapping[str, Any]] = ()) -> None:
        self.status = status
        self.description = description
        self.details = [dict(item) for item in details]
        super().__init__(message)


class RejectedError(DeliveryError):
    """The platform refused the event (400, 409, 422, or 413 alone): it is a dead letter."""


class TransientDeliveryError(DeliveryError):
    """A network error, a timeout, 408/429/5xx, or a reply not about the events (404, 405...):
    the event stays queued and is retried."""


class AuthError(DeliveryError):
    """The token endpoint refused the credentials, or the API kept answering 401 or 403."""


class UndeliverableError(DeliveryError):
    """The sender gave up on an event that was not refused: it made the platform fail each time
    it was sent alone (`reason` "failed_alone"), or it was older than `max_event_age` when a send
    failed again ("expired"). The event is a dead letter; `last` is the last failure."""

    def __init__(self, message: str, *, reason: str, last: DeliveryError) -> None:
        super().__init__(message, status=last.status, description=last.description,
                         details=last.details)
        self.reason = reason
        self.last = last


class EventsDroppedError(TimeledgerError):
    """The outbox held `max_outbox_events`: its oldest heartbeats (then other events, never
    completions) were dropped to make room. `event_ids` lists them, oldest first; `kinds` counts
    them by kind."""

    def __init__(self, event_ids: Sequence[str], kinds: Mapping[str, int], limit: int) -> None:
        self.event_ids = tuple(event_ids)
        self.kinds = dict(kinds)
        self.limit = limit
        counted = ", ".join(f"{count} {kind}" for kind, count in sorted(self.kinds.items()))
        super().__init__(f"The outbox holds max_outbox_events={limit}: dropped"
                         f" {len(self.event_ids)} events ({counted}), oldest first")


class OutboxBusyError(TimeledgerError, RuntimeError):
    """Too many events already wait for the outbox's writer (the file is locked or slow):
    nothing was queued."""

    def __init__(self, waiting: int, limit: int) -> None:
        self.waiting = waiting
        self.limit = limit
        super().__init__(f"{waiting} events already wait to be written to the outbox (at most"
                         f" {limit}): the file is locked or slow; nothing was queued")


EventKind = Literal["heartbeat", "completion", "event"]


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What an `on_error` callback is told besides the error: which event, of which run."""

    kind: EventKind
    event_id: str
    run_id: str | None
    attempts: int
    dead: bool

    def __str__(self) -> str:
        return self.kind
