"""Learner days (learner × course × local day) and run days (a run's sessions)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.upserts import Row, upsert
from timeledger.server.store.projection_tables import learner_days, run_days

_DAY_COUNTERS = ("active_ms", "inactive_ms", "xp_milli", "completions", "total_questions",
                 "correct_questions", "mastered_units")


def record_days(conn: sa.Connection, counted: Sequence[Prepared]) -> None:
    """Time goes to the days its window covers; a completion to the day of its eventTime."""
    days: dict[tuple[str, str, str], Row] = {}
    sessions: dict[tuple[str, str], Row] = {}

    def day(email: str, course: str, date: str) -> Row:
        key = (email, course, date)
        if key not in days:
            days[key] = {"learner_email": email, "course_id": course, "local_date": date,
                         **dict.fromkeys(_DAY_COUNTERS, 0)}
        return days[key]

    for item in counted:
        f = item.facts
        if item.is_time:
            for share in item.days:
                row = day(f.learner_email, f.course_id, share.local_date)
                row["active_ms"] += share.active_ms
                row["inactive_ms"] += share.inactive_ms
                if f.run_id is not None:
                    session = sessions.get((f.run_id, share.local_date))
                    if session is None:
                        session = sessions[(f.run_id, share.local_date)] = {
                            "run_id": f.run_id, "local_date": share.local_date,
                            "active_ms": 0, "inactive_ms": 0}
                    session["active_ms"] += share.active_ms
                    session["inactive_ms"] += share.inactive_ms
            continue
        row = day(f.learner_email, f.course_id, item.local_date)
        row["xp_milli"] += item.xp_milli
        row["completions"] += 1
        row["total_questions"] += f.total_questions or 0
        row["correct_questions"] += f.correct_questions or 0
        row["mastered_units"] += f.mastered_units or 0
    upsert(conn, learner_days, days.values(), ["learner_email", "course_id", "local_date"],
           add=_DAY_COUNTERS)
    upsert(conn, run_days, sessions.values(), ["run_id", "local_date"],
           add=["active_ms", "inactive_ms"])
