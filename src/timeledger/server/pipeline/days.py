"""Learner days (learner × course × local day) and run days (a run's sessions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.upserts import Row, upsert
from timeledger.server.store.projection_tables import learner_days, run_days

DAY_COUNTERS = ("active_ms", "inactive_ms", "xp_milli", "completions", "total_questions",
                "correct_questions", "mastered_units")
_NO_COUNTS = dict.fromkeys(DAY_COUNTERS, 0)


@dataclass(frozen=True, slots=True)
class DayRows:
    """What a batch's counted events add to learner days and run days, by key."""

    days: dict[tuple[str, str, str], Row]  # (learner, course, local date)
    sessions: dict[tuple[str, str], Row]  # (run, local date)


def day_rows(counted: Sequence[Prepared]) -> DayRows:
    """Time goes to the days its window covers; a completion to the day of its eventTime."""
    days: dict[tuple[str, str, str], Row] = {}
    sessions: dict[tuple[str, str], Row] = {}
    for item in counted:
        f = item.facts
        if item.is_time:
            for share in item.days:
                key = (f.learner_email, f.course_id, share.local_date)
                row = days.get(key)
                if row is None:
                    row = days[key] = {"learner_email": key[0], "course_id": key[1],
                                       "local_date": key[2], **_NO_COUNTS}
                row["active_ms"] += share.active_ms
                row["inactive_ms"] += share.inactive_ms
                if item.run_id is not None:
                    session = sessions.get((item.run_id, share.local_date))
                    if session is None:
                        session = sessions[(item.run_id, share.local_date)] = {
                            "run_id": item.run_id, "local_date": share.local_date,
                            "active_ms": 0, "inactive_ms": 0}
                    session["active_ms"] += share.active_ms
                    session["inactive_ms"] += share.inactive_ms
            continue
        key = (f.learner_email, f.course_id, item.local_date)
        row = days.get(key)
        if row is None:
            row = days[key] = {"learner_email": key[0], "course_id": key[1],
                               "local_date": key[2], **_NO_COUNTS}
        row["xp_milli"] += item.xp_milli
        row["completions"] += 1
        row["total_questions"] += f.total_questions or 0
        row["correct_questions"] += f.correct_questions or 0
        row["mastered_units"] += f.mastered_units or 0
    return DayRows(days, sessions)


def record_days(conn: sa.Connection, rows: DayRows) -> None:
    upsert(conn, learner_days, rows.days.values(), ["learner_email", "course_id", "local_date"],
           add=DAY_COUNTERS)
    upsert(conn, run_days, rows.sessions.values(), ["run_id", "local_date"],
           add=["active_ms", "inactive_ms"])
