"""Runs keyed by run id: who and what, time, heartbeats, completions and XP, first completion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.upserts import Row, upsert
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


def upsert_runs(conn: sa.Connection, counted: Sequence[Prepared]) -> dict[str, RunState]:
    """Add the batch's counted events (with a run id) to their runs; returns each run's state."""
    rows: dict[str, Row] = {}
    for item in counted:
        f = item.facts
        assert f.run_id is not None
        row = rows.get(f.run_id)
        if row is None:
            row = rows[f.run_id] = {
                "run_id": f.run_id, "run_key": f.run_key,
                "learner_email": f.learner_email, "actor_id": f.actor_id,
                "activity_id": f.activity_id, "activity_name": f.activity_name,
                "course_id": f.course_id, "subject": f.subject, "app_name": f.app_name,
                "first_seen": item.start, "last_seen": f.event_time,
                "active_ms": 0, "inactive_ms": 0, "other_ms": 0, "heartbeats": 0,
                "completions": 0, "xp_milli": 0, **dict.fromkeys(_COMPLETION_COLUMNS),
            }
        if not row["run_key"]:
            row["run_key"] = f.run_key
        if item.start < row["first_seen"]:
            row["first_seen"] = item.start
        if f.event_time > row["last_seen"]:
            row["last_seen"] = f.event_time
        if item.is_time:
            row["active_ms"] += item.active_ms
            row["inactive_ms"] += item.inactive_ms
            row["other_ms"] += item.other_ms
            row["heartbeats"] += 1
            continue
        row["completions"] += 1
        row["xp_milli"] += item.xp_milli
        if row["completion_seq"] is None:
            row.update({
                "completion_seq": item.seq, "completion_event_id": f.event_id,
                "completion_time": f.event_time, "completion_attempt": f.attempt,
                "completion_xp_milli": item.xp_milli,
                "completion_total_questions": f.total_questions,
                "completion_correct_questions": f.correct_questions,
                "completion_mastered_units": f.mastered_units,
                "completion_pct_complete": f.pct_complete,
            })
    found = upsert(
        conn, runs, rows.values(), ["run_id"],
        add=["active_ms", "inactive_ms", "other_ms", "heartbeats", "completions", "xp_milli"],
        keep=["run_key"], least_of=["first_seen"], greatest_of=["last_seen"],
        custom=_first_completion_wins,
        returning=["run_id", "completion_seq", "completion_event_id", "completion_time",
                   "learner_email", "course_id", "activity_id", "activity_name", "first_seen"],
    )
    return {row.run_id: RunState(row.run_id, row.completion_seq, row.completion_event_id,
                                 row.completion_time, row.learner_email, row.course_id,
                                 row.activity_id, row.activity_name, row.first_seen)
            for row in found}
