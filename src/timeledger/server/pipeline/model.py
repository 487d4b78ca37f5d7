"""What the pipeline is given: stored Timeback events and the platform's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from timeledger.caliper.timeback import TimebackFacts

Outcome = Literal["counted", "duplicate_window", "duplicate_completion"]


@dataclass(frozen=True, slots=True)
class StoredTimebackEvent:
    """A Timeback event just appended (or being replayed), with its place in the log."""

    seq: int
    facts: TimebackFacts


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    timezone: str = "UTC"
