"""What the pipeline is given: stored Timeback events and the platform's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

from timeledger.caliper.timeback import TimebackFacts

Outcome = Literal["counted", "duplicate_window", "duplicate_completion"]


class StoredTimebackEvent(msgspec.Struct, frozen=True, gc=False):
    """A Timeback event just appended (or being replayed), with its place in the log. A
    msgspec struct, as every value the projector makes per event (prepared.py): a frozen
    dataclass costs a call of object.__setattr__ per field to build. Left out of the cyclic
    garbage collector (gc=False), as they are: values that only point down (facts, times,
    strings) never form a cycle, and a batch's thousands of them no longer set it off."""

    seq: int
    facts: TimebackFacts


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    timezone: str = "UTC"
