"""The gradebook: a line item per activity and course, a result per attempt, course progress."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from timeledger.caliper.gradebook_ids import line_item_sourced_id, result_sourced_id
from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.upserts import Row, changed_rows, stored_rows, upsert
from timeledger.server.store.projection_tables import (
    course_progress,
    gradebook_line_items,
    gradebook_results,
)

#: Scores are summed as integers in millionths of a percent, so a sum does not depend on the order
#: its scores were added in.
SCORE_SCALE = 1_000_000
_KEYS_PER_LOOKUP = 200  # result keys per `IN (...)` (four columns each)
_LINE_KEYS = ("course_id", "activity_id")
_RESULT_VALUES = ("seq", "event_id", "run_id", "score", "total_questions", "correct_questions",
                  "xp_milli", "mastered_units", "pct_complete", "score_date")


def score_of(total: int | None, correct: int | None) -> float | None:
    """correct / total × 100 when questions were given."""
    if not total or correct is None:
        return None
    return correct * 100 / total


def score_micro(score: float) -> int:
    """A score (percent) in the integer units its sums are kept in."""
    return round(score * SCORE_SCALE)


@dataclass(frozen=True, slots=True)
class ResultChange:
    """A gradebook result the batch stored: a new attempt, or one replacing an earlier result of
    the same attempt."""

    learner_email: str
    course_id: str
    activity_id: str
    score: float | None
    replaced: bool


# A stored result or progress came before the batch in the log's order (its learner's partition
# is projected in that order, pipeline/batch_order.py), whatever the seqs: the batch's is later.
def _later_result_wins(_c: Any, new: Any) -> dict[str, Any]:
    return {name: new[name] for name in _RESULT_VALUES}


def _later_pct_wins(c: Any, new: Any) -> dict[str, Any]:
    newer = sa.and_(new.pct_time.is_not(None), sa.or_(
        c.pct_time.is_(None), new.pct_time >= c.pct_time))
    return {name: sa.case((newer, new[name]), else_=c[name])
            for name in ("pct_complete", "pct_time", "pct_seq")}


@dataclass(frozen=True, slots=True)
class StoredGrades:
    """What the gradebook held before the batch, for the batch's completions."""

    result_seqs: dict[tuple[str, str, str, int], int]  # a result's key -> the seq behind it
    line_items: dict[tuple[Any, ...], Any]  # (course, activity) -> first_seen


def stored_grades(conn: sa.Connection, items: Sequence[Prepared]) -> StoredGrades:
    """Read before the batch writes the gradebook (on SQLite, before the write lock); `items`
    may be all of the batch's events, counted or not."""
    keys: set[tuple[str, str, str, int]] = set()
    lines: set[tuple[str, str]] = set()
    for item in items:
        if not item.is_time:
            f = item.facts
            keys.add((f.learner_email, f.course_id, f.activity_id, f.attempt or 1))
            lines.add((f.course_id, f.activity_id))
    return StoredGrades(_stored_seqs(conn, sorted(keys)), stored_rows(
        conn, gradebook_line_items, lines, _LINE_KEYS, ["first_seen"]))


def _stored_seqs(conn: sa.Connection, keys: list[tuple[str, str, str, int]]
                 ) -> dict[tuple[str, str, str, int], int]:
    g = gradebook_results.c
    columns = (g.learner_email, g.course_id, g.activity_id, g.attempt)
    found: dict[tuple[str, str, str, int], int] = {}
    for start in range(0, len(keys), _KEYS_PER_LOOKUP):
        for row in conn.execute(sa.select(*columns, g.seq).where(
                sa.tuple_(*columns).in_(keys[start:start + _KEYS_PER_LOOKUP]))):
            found[(row.learner_email, row.course_id, row.activity_id, row.attempt)] = row.seq
    return found


def record_gradebook(conn: sa.Connection, counted: Sequence[Prepared],
                     before: StoredGrades) -> list[ResultChange]:
    """From counted completions, in the log's order: a repeated attempt overwrites the earlier
    result.
    `before`: `stored_grades` of the batch. Returns the results stored (pipeline/activities.py
    adds them to the learner's activity)."""
    items: dict[tuple[str, str], Row] = {}
    results: dict[tuple[str, str, str, int], Row] = {}
    progress: dict[tuple[str, str], Row] = {}
    for item in counted:
        f = item.facts
        item_id = line_item_sourced_id(f.activity_id, f.course_id)
        items.setdefault((f.course_id, f.activity_id), {
            "course_id": f.course_id, "activity_id": f.activity_id,
            "activity_name": f.activity_name, "subject": f.subject, "app_name": f.app_name,
            "first_seen": f.event_time, "sourced_id": item_id})
        line = items[(f.course_id, f.activity_id)]
        line["first_seen"] = min(line["first_seen"], f.event_time)
        attempt = f.attempt or 1
        results[(f.learner_email, f.course_id, f.activity_id, attempt)] = {
            "learner_email": f.learner_email, "course_id": f.course_id,
            "activity_id": f.activity_id, "attempt": attempt, "seq": item.seq,
            "event_id": f.event_id, "run_id": f.run_id,
            "score": score_of(f.total_questions, f.correct_questions),
            "total_questions": f.total_questions, "correct_questions": f.correct_questions,
            "xp_milli": item.xp_milli, "mastered_units": f.mastered_units,
            "pct_complete": f.pct_complete, "score_date": f.event_time,
            "sourced_id": result_sourced_id(item_id, f.learner_email, attempt),
            "line_item_sourced_id": item_id,
        }
        row = progress.setdefault((f.learner_email, f.course_id), {
            "learner_email": f.learner_email, "course_id": f.course_id, "pct_complete": None,
            "pct_time": None, "pct_seq": None, "mastered_units": 0, "completions": 0,
            "xp_milli": 0})
        row["mastered_units"] += f.mastered_units or 0
        row["completions"] += 1
        row["xp_milli"] += item.xp_milli
        if f.pct_complete is not None and (row["pct_time"] is None
                                           or f.event_time >= row["pct_time"]):
            row.update(pct_complete=f.pct_complete, pct_time=f.event_time, pct_seq=item.seq)
    stored = before.result_seqs
    changes = [ResultChange(key[0], key[1], key[2], row["score"], key in stored)
               for key, row in sorted(results.items())]
    # Every learner's completions of an activity name its line item: write it only on a change
    # (see upserts.changing_rows).
    upsert(conn, gradebook_line_items, changed_rows(items.values(), before.line_items,
                                                    _LINE_KEYS, least_of=["first_seen"]),
           _LINE_KEYS, least_of=["first_seen"])
    upsert(conn, gradebook_results, results.values(),
           ["learner_email", "course_id", "activity_id", "attempt"], custom=_later_result_wins)
    upsert(conn, course_progress, progress.values(), ["learner_email", "course_id"],
           add=["mastered_units", "completions", "xp_milli"], custom=_later_pct_wins)
    return changes
