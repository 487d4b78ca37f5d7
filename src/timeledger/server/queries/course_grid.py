"""A course's learners × activities: each learner's best score on each activity, or where they
are with it (not started, in progress), for the course page's heatmap."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from timeledger.server.store.projection_tables import learner_activities, learners


def _first_seen_order(row: Any) -> tuple[bool, datetime | None, str]:
    return (row.first_seen is None, row.first_seen, row.activity_id)


def course_grid(conn: sa.Connection, course_id: str) -> dict[str, Any]:
    """{activities: [{id, name}] in the order first seen (those with results only, no runs,
    last), learners: [{email, name}] by name, cells: {email: {activity id: {state:
    "scored"|"completed"|"in_progress", best_score (percent or None), runs, completed}}}}. A
    missing cell is not started. Read from the course's learner activities: a row per learner
    and activity, however many runs and attempts are behind it."""
    a = learner_activities.c
    found = sorted(conn.execute(sa.select(
        a.learner_email, a.activity_id, a.activity_name, a.first_seen, a.runs, a.completed_runs,
        a.best_score).where(a.course_id == course_id)), key=_first_seen_order)
    activities: dict[str, dict[str, Any]] = {}
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for row in found:
        entry = activities.setdefault(row.activity_id, {"id": row.activity_id,
                                                        "name": row.activity_id})
        if row.activity_name and entry["name"] == row.activity_id:
            entry["name"] = row.activity_name
        cell: dict[str, Any]
        if row.runs:
            cell = {"state": "completed" if row.completed_runs else "in_progress",
                    "best_score": None, "runs": int(row.runs),
                    "completed": int(row.completed_runs)}
        else:  # results whose completions named no run
            cell = {"state": "completed", "best_score": None, "runs": 0, "completed": 1}
        if row.best_score is not None:
            cell["state"] = "scored"
            cell["best_score"] = round(float(row.best_score), 1)
        cells.setdefault(row.learner_email, {})[row.activity_id] = cell
    names = {row.email: row.name for row in conn.execute(
        sa.select(learners.c.email, learners.c.name).where(learners.c.email.in_(list(cells))))}
    people = [{"email": email, "name": names.get(email)}
              for email in sorted(cells, key=lambda email: ((names.get(email) or email).lower(),
                                                             email))]
    return {"activities": list(activities.values()), "learners": people, "cells": cells}
