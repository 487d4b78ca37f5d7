"""The projections: runs, learner days, XP, gradebook and flags, each a function of the events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa

from timeledger.caliper.timeback import TimebackFacts

Outcome = Literal["counted", "duplicate_window", "duplicate_completion"]


@dataclass(frozen=True, slots=True)
class StoredTimebackEvent:
    """A Timeback event just appended (or being replayed), with its place in the log."""

    seq: int
    facts: TimebackFacts
    received_at: datetime


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    timezone: str = "UTC"


def project_events(conn: sa.Connection, batch: Sequence[StoredTimebackEvent],
                   settings: PipelineSettings) -> dict[int, Outcome]:
    """Apply newly appended events, in seq order, inside the caller's transaction.

    Returns an outcome for each seq whose effect was not counted (a resent window or completion).
    """
    return {}
