"""A course's learners × activities: each learner's best score on each activity, or where they
are with it (not started, in progress), for the course page's heatmap."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from timeledger.server.store.projection_tables import gradebook_results, learners, runs


def course_grid(conn: sa.Connection, course_id: str) -> dict[str, Any]:
    """{activities: [{id, name}] in the order first seen, learners: [{email, name}] by name,
    cells: {email: {activity id: {state: "scored"|"completed"|"in_progress", best_score
    (percent or None), runs, completed}}}}. A missing cell is not started. Read from the runs
    and gradebook results of this course, grouped by learner and activity."""
    r = runs.c
    activities: dict[str, dict[str, Any]] = {}
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    first_seen = sa.func.min(r.first_seen)
    query = (sa.select(r.learner_email, r.activity_id, sa.func.max(r.activity_name), first_seen,
                       sa.func.count(), sa.func.count(r.completion_seq))
             .where(r.course_id == course_id).group_by(r.learner_email, r.activity_id)
             .order_by(first_seen, r.activity_id))
    for email, activity, name, _first, run_count, completed in conn.execute(query):
        entry = activities.setdefault(activity, {"id": activity, "name": name or activity})
        if name and entry["name"] == activity:
            entry["name"] = name
        cells.setdefault(email, {})[activity] = {
            "state": "completed" if completed else "in_progress", "best_score": None,
            "runs": int(run_count), "completed": int(completed)}
    g = gradebook_results.c
    for email, activity, best in conn.execute(
            sa.select(g.learner_email, g.activity_id, sa.func.max(g.score))
            .where(g.course_id == course_id).group_by(g.learner_email, g.activity_id)):
        cell = cells.setdefault(email, {}).setdefault(activity, {
            "state": "completed", "best_score": None, "runs": 0, "completed": 1})
        activities.setdefault(activity, {"id": activity, "name": activity})
        if best is not None:
            cell["state"] = "scored"
            cell["best_score"] = round(float(best), 1)
    names = {row.email: row.name for row in conn.execute(
        sa.select(learners.c.email, learners.c.name).where(learners.c.email.in_(list(cells))))}
    people = [{"email": email, "name": names.get(email)}
              for email in sorted(cells, key=lambda email: ((names.get(email) or email).lower(),
                                                             email))]
    return {"activities": list(activities.values()), "learners": people, "cells": cells}
