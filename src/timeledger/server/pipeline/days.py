"""Learner days (learner × course × local day) and run days (a run's sessions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa

from timeledger.server.pipeline.prepared import DayShare, Prepared
from timeledger.server.pipeline.upserts import PendingUpsert, Row
from timeledger.server.store.projection_tables import learner_days, run_days

DAY_COUNTERS = ("active_ms", "inactive_ms", "xp_milli", "completions", "total_questions",
                "correct_questions", "mastered_units")
_NO_COUNTS = dict.fromkeys(DAY_COUNTERS, 0)
_Key = TypeVar("_Key", tuple[str, str, str], tuple[str, str])


@dataclass(frozen=True, slots=True)
class DayRows:
    """What a batch's counted events add to learner days and run days, by key."""

    days: dict[tuple[str, str, str], Row]  # (learner, course, local date)
    sessions: dict[tuple[str, str], Row]  # (run, local date)


def _add_time(sums_by_key: dict[_Key, list[int]], key: _Key, share: DayShare) -> None:
    """Add a day's share of a window to the [active, inactive] ms kept under `key`."""
    sums = sums_by_key.get(key)
    if sums is None:
        sums_by_key[key] = [share.active_ms, share.inactive_ms]
    else:
        sums[0] += share.active_ms
        sums[1] += share.inactive_ms


def day_rows(counted: Sequence[Prepared]) -> DayRows:
    """Time goes to the days its window covers; a completion to the day of its eventTime."""
    times: dict[tuple[str, str, str], list[int]] = {}  # active, inactive ms by learner day
    sessions: dict[tuple[str, str], list[int]] = {}  # the same by run day
    done: list[Prepared] = []
    for item in counted:
        if not item.is_time:
            done.append(item)
            continue
        f = item.facts
        for share in item.days:
            _add_time(times, (f.learner_email, f.course_id, share.local_date), share)
            if item.run_id is not None:
                _add_time(sessions, (item.run_id, share.local_date), share)
    days: dict[tuple[str, str, str], Row] = {
        key: {"learner_email": key[0], "course_id": key[1], "local_date": key[2], **_NO_COUNTS,
              "active_ms": active, "inactive_ms": inactive}
        for key, (active, inactive) in times.items()}
    for item in done:
        f = item.facts
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
    return DayRows(days, {
        key: {"run_id": key[0], "local_date": key[1], "active_ms": active,
              "inactive_ms": inactive} for key, (active, inactive) in sessions.items()})


def day_upserts(conn: sa.Connection, rows: DayRows) -> tuple[PendingUpsert, PendingUpsert]:
    """The upserts that add `rows` to the stored learner days and run days."""
    return (PendingUpsert(conn, learner_days, rows.days.values(),
                          ["learner_email", "course_id", "local_date"], add=DAY_COUNTERS),
            PendingUpsert(conn, run_days, rows.sessions.values(), ["run_id", "local_date"],
                          add=["active_ms", "inactive_ms"]))
