"""The Python SDK: `Client`/`AsyncClient`, activities with heartbeat windows, a durable outbox."""

from timeledger.caliper.metrics import Metrics
from timeledger.sdk.activity import Activity, Receipt
from timeledger.sdk.async_client import AsyncActivity, AsyncClient
from timeledger.sdk.client import Client
from timeledger.sdk.errors import (
    ActivityEndedError,
    ActivityInProgressError,
    AuthError,
    ClientClosedError,
    ConfigurationError,
    DeliveryError,
    ErrorContext,
    EventsDroppedError,
    OutboxBusyError,
    RejectedError,
    TimeledgerError,
    TransientDeliveryError,
    UndeliverableError,
    ValidationError,
)
from timeledger.sdk.options import TimeOptions
from timeledger.sdk.outbox import DeadLetter, OutboxRow

__all__ = [
    "Activity", "ActivityEndedError", "ActivityInProgressError", "AsyncActivity", "AsyncClient",
    "AuthError", "Client", "ClientClosedError", "ConfigurationError", "DeadLetter",
    "DeliveryError", "ErrorContext", "EventsDroppedError", "Metrics", "OutboxBusyError",
    "OutboxRow", "Receipt",
    "RejectedError",
    "TimeOptions", "TimeledgerError", "TransientDeliveryError", "UndeliverableError",
    "ValidationError",
]
