"""The wire format: Caliper envelopes and the TimebackProfile events, with no I/O of its own."""

from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    RunRef,
    activity_url,
    completed_event,
    envelope,
    new_event_id,
    normalize_run_id,
    run_namespace,
    run_ref,
    stable_event_id,
    time_spent_event,
)
from timeledger.caliper.envelope import (
    Envelope,
    MalformedJSON,
    TooManyEvents,
    UnsupportedDataVersion,
    parse_envelope,
)
from timeledger.caliper.errors import CaliperError, Problem
from timeledger.caliper.metrics import Metrics, metrics_from_mapping
from timeledger.caliper.timeback import (
    CALIPER_CONTEXT,
    ActivityCompletedEvent,
    TimebackFacts,
    TimeSpentEvent,
    facts_of,
)

__all__ = [
    "CALIPER_CONTEXT", "ActivityCompletedEvent", "ActivityRef", "CaliperError", "Envelope",
    "Learner", "MalformedJSON", "Metrics", "Problem", "RunRef", "TimeSpentEvent", "TimebackFacts",
    "TooManyEvents", "UnsupportedDataVersion", "activity_url", "completed_event", "envelope",
    "facts_of", "metrics_from_mapping", "new_event_id", "normalize_run_id", "parse_envelope",
    "run_namespace", "run_ref", "stable_event_id", "time_spent_event",
]
