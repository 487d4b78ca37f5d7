"""Learner activities: a learner's runs of one activity of a course and their gradebook results on
it, kept as one row, so the course page reads a row per learner and activity at any length of
history.

Counts move with what the batch makes new (a run, a run's first completion, an attempt's result),
found by pipeline/totals.py and pipeline/gradebook.py before their rows are written, so each is
counted once however the log is cut into batches. A result that replaces an earlier one of the same
attempt is rare; its activity's result figures are then read again from the learner's results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from timeledger.server.pipeline.gradebook import ResultChange, score_micro
from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.runs import RunState
from timeledger.server.pipeline.totals import Novelty
from timeledger.server.pipeline.upserts import Row, upsert
from timeledger.server.store.projection_tables import gradebook_results, learner_activities

Key = tuple[str, str, str]  # learner, course, activity
_COUNTS = ("runs", "completed_runs", "results", "scored_results", "score_micro_sum")
_RESULT_FIGURES = ("results", "scored_results", "score_micro_sum", "best_score")


def _replace_results(c: Any, new: Any) -> dict[str, Any]:
    return {name: new[name] for name in _RESULT_FIGURES}


def record_activities(conn: sa.Connection, done: Sequence[Prepared], novelty: Novelty,
                      states: Mapping[str, RunState], results: Sequence[ResultChange],
                      earliest: Mapping[str, datetime]) -> None:
    """Add the batch's new runs, newly completed runs and stored results to their learner's
    activity rows. `done`: the batch's counted completions; `earliest`: each run's earliest
    start among the batch's counted events (runs.RunsUpsert). Call after the runs upsert and
    record_gradebook."""
    rows: dict[Key, Row] = {}

    def row_of(key: Key) -> Row:
        if key not in rows:
            rows[key] = {"learner_email": key[0], "course_id": key[1], "activity_id": key[2],
                         "activity_name": None, "first_seen": None, "best_score": None,
                         **dict.fromkeys(_COUNTS, 0)}
        return rows[key]

    completions = {item.seq for item in done}
    for run_id, state in states.items():
        new = run_id in novelty.runs
        completed = state.completion_seq is not None and state.completion_seq in completions
        # the run's first_seen is this batch's earliest start: it is new or moved earlier
        moved = state.first_seen == earliest.get(run_id)
        if not (new or completed or moved):
            continue
        row = row_of((state.learner_email, state.course_id, state.activity_id))
        if row["first_seen"] is None or state.first_seen < row["first_seen"]:
            row["first_seen"] = state.first_seen
        if new:
            row["runs"] += 1
            if state.activity_name is not None and (row["activity_name"] is None
                                                    or state.activity_name > row["activity_name"]):
                row["activity_name"] = state.activity_name
        if completed:
            row["completed_runs"] += 1
    recount: set[Key] = set()
    for change in results:
        key = (change.learner_email, change.course_id, change.activity_id)
        row = row_of(key)
        if change.replaced:
            recount.add(key)
            continue
        row["results"] += 1
        if change.score is not None:
            row["scored_results"] += 1
            row["score_micro_sum"] += score_micro(change.score)
            if row["best_score"] is None or change.score > row["best_score"]:
                row["best_score"] = change.score
    upsert(conn, learner_activities, rows.values(),
           ["learner_email", "course_id", "activity_id"], add=_COUNTS,
           least_of=["first_seen"], greatest_of=["activity_name", "best_score"])
    if recount:
        upsert(conn, learner_activities, [_result_figures(conn, key) for key in sorted(recount)],
               ["learner_email", "course_id", "activity_id"], custom=_replace_results)


def _result_figures(conn: sa.Connection, key: Key) -> Row:
    """The activity's result figures read from the learner's stored results on it."""
    g = gradebook_results.c
    scores = list(conn.execute(sa.select(g.score).where(
        g.learner_email == key[0], g.course_id == key[1], g.activity_id == key[2])).scalars())
    scored = [score for score in scores if score is not None]
    return {"learner_email": key[0], "course_id": key[1], "activity_id": key[2],
            "results": len(scores), "scored_results": len(scored),
            "score_micro_sum": sum(score_micro(score) for score in scored),
            "best_score": max(scored, default=None)}
