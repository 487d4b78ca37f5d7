"""Runs keyed by run id: who and what, time, heartbeats, completions and XP, first completion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import filterfalse
from operator import attrgetter
from typing import Any

import sqlalchemy as sa

from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.upserts import PendingUpsert, Row
from timeledger.server.store.projection_tables import runs

_COMPLETION_COLUMNS = (
    "completion_seq", "completion_event_id", "completion_time", "completion_attempt",
    "completion_xp_milli", "completion_total_questions", "completion_correct_questions",
    "completion_mastered_units", "completion_pct_complete",
)


@dataclass(frozen=True, slots=True)
class RunState:
    """A run as stored after this batch: what it is of, when first seen, its first counted
    completion."""

    run_id: str
    completion_seq: int | None
    completion_event_id: str | None
    completion_time: datetime | None
    learner_email: str
    course_id: str
    activity_id: str
    activity_name: str | None
    first_seen: datetime


def _first_completion_wins(c: Any, new: Any) -> dict[str, Any]:
    return {name: sa.case((c.completion_seq.is_(None), new[name]), else_=c[name])
            for name in _COMPLETION_COLUMNS}


class RunsUpsert:
    """The batch's counted events (with a run id) added to their runs: rows built and converted
    when made (before the write lock, on SQLite), the upsert run by `run`."""

    __slots__ = ("_upsert", "earliest")

    def __init__(self, conn: sa.Connection, counted: Sequence[Prepared]) -> None:
        groups: dict[str, list[Prepared]] = {}
        for item in counted:
            assert item.run_id is not None
            group = groups.get(item.run_id)
            if group is None:
                groups[item.run_id] = [item]
            else:
                group.append(item)
        rows = [_run_row(run_id, group) for run_id, group in groups.items()]
        #: Each run's earliest start among the batch's events (its row's first_seen).
        self.earliest: dict[str, datetime] = {row["run_id"]: row["first_seen"] for row in rows}
        # A batch without completions leaves every run's completion columns as they are: its
        # rows and statement leave them out (SQLite then works out nine CASEs fewer a row).
        completed = any("completion_seq" in row for row in rows)
        if completed:
            for row in rows:
                if "completion_seq" not in row:
                    row.update(dict.fromkeys(_COMPLETION_COLUMNS))
        self._upsert = PendingUpsert(
            conn, runs, rows, ["run_id"],
            add=["active_ms", "inactive_ms", "other_ms", "heartbeats", "completions",
                 "xp_milli"],
            keep=["run_key"], least_of=["first_seen"], greatest_of=["last_seen"],
            custom=_first_completion_wins if completed else None,
            returning=["run_id", "completion_seq", "completion_event_id", "completion_time",
                       "learner_email", "course_id", "activity_id", "activity_name",
                       "first_seen"],
        )

    def run(self, conn: sa.Connection) -> dict[str, RunState]:
        """Upsert the runs; returns each run's state as stored after it."""
        return {row.run_id: RunState(row.run_id, row.completion_seq, row.completion_event_id,
                                     row.completion_time, row.learner_email, row.course_id,
                                     row.activity_id, row.activity_name, row.first_seen)
                for row in self._upsert.run(conn)}


_START = attrgetter("start")
_EVENT_TIME = attrgetter("facts.event_time")
_RUN_KEY = attrgetter("facts.run_key")
_IS_TIME = attrgetter("is_time")
_ACTIVE = attrgetter("active_ms")
_INACTIVE = attrgetter("inactive_ms")
_OTHER = attrgetter("other_ms")
_XP = attrgetter("xp_milli")


def _run_row(run_id: str, group: list[Prepared]) -> Row:
    """A run's row from its counted events in the log's order: who and what from the first, the
    first run key given, the earliest start and latest eventTime, the sums, and the first
    completion. (Each figure one pass in C over the run's events.)"""
    f = group[0].facts
    run_keys = list(map(_RUN_KEY, group))
    completed = list(filterfalse(_IS_TIME, group))
    times = list(filter(_IS_TIME, group)) if completed else group
    row: Row = {
        "run_id": run_id, "run_key": next(filter(None, run_keys), run_keys[-1]),
        "learner_email": f.learner_email, "actor_id": f.actor_id,
        "activity_id": f.activity_id, "activity_name": f.activity_name,
        "course_id": f.course_id, "subject": f.subject, "app_name": f.app_name,
        "first_seen": min(map(_START, group)), "last_seen": max(map(_EVENT_TIME, group)),
        "active_ms": sum(map(_ACTIVE, times)), "inactive_ms": sum(map(_INACTIVE, times)),
        "other_ms": sum(map(_OTHER, times)), "heartbeats": len(times),
        "completions": len(completed), "xp_milli": sum(map(_XP, completed)),
    }
    if not completed:
        return row  # its completion columns: see RunsUpsert
    first = completed[0]
    c = first.facts
    row.update({
        "completion_seq": first.seq, "completion_event_id": c.event_id,
        "completion_time": c.event_time, "completion_attempt": c.attempt,
        "completion_xp_milli": first.xp_milli, "completion_total_questions": c.total_questions,
        "completion_correct_questions": c.correct_questions,
        "completion_mastered_units": c.mastered_units,
        "completion_pct_complete": c.pct_complete,
    })
    return row
