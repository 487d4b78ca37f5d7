"""Courses: the registry's and those events named, with totals and learners' progress."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from timeledger.server.queries.course_catalog import course_ids, course_info
from timeledger.server.queries.errors import NotFound
from timeledger.server.queries.figures import progress_of, sum_figures
from timeledger.server.queries.page_cursor import decode_key, encode_key
from timeledger.server.store.projection_tables import course_progress, learner_course_totals

MAX_COURSES_PAGE = 1000  # the most courses one page of GET /api/v1/courses lists
_SUMS = ("active_ms", "inactive_ms", "xp_milli", "completions", "total_questions",
         "correct_questions", "mastered_units")


def list_courses(conn: sa.Connection,
                 only: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Every course, ordered by id: registered ones (goals, totalLessons) and those only seen in
    events. Each: {course_id, name, subject, grade, course_code, app_name, registered, goals,
    total_lessons, total_xp, learners, active_minutes, inactive_minutes, xp, completions,
    total_questions, correct_questions, accuracy, mastered_units, progress: {learners,
    average}} where progress.average is the mean of learners' course progress (percent, see
    gradebook) over the learners that have one, or None. `only`: those courses alone."""
    info = course_info(conn, only)
    t = learner_course_totals.c  # one row per learner and course, however long the history
    sums_query = sa.select(t.course_id, sa.func.count().label("learners"),
                           *(sa.func.coalesce(sa.func.sum(t[name]), 0).label(name)
                             for name in _SUMS)).group_by(t.course_id)
    progress_query = sa.select(course_progress)
    if only is not None:
        sums_query = sums_query.where(t.course_id.in_(sorted(only)))
        progress_query = progress_query.where(course_progress.c.course_id.in_(sorted(only)))
    sums = {row.course_id: row for row in conn.execute(sums_query)}
    progress: dict[str, list[float]] = {}
    for entry in conn.execute(progress_query):
        total_lessons = info.get(entry.course_id, {}).get("total_lessons")
        value, _source = progress_of(entry.pct_complete, entry.mastered_units, total_lessons)
        if value is not None:
            progress.setdefault(entry.course_id, []).append(value)
    out = []
    for course_id in sorted(info):
        row = sums.get(course_id)
        values = {name: int(getattr(row, name)) if row else 0 for name in _SUMS}
        learner_progress = progress.get(course_id, [])
        out.append({
            **info[course_id],
            "learners": int(row.learners) if row else 0,
            **sum_figures(values),
            "progress": {
                "learners": len(learner_progress),
                "average": round(sum(learner_progress) / len(learner_progress), 1)
                if learner_progress else None,
            },
        })
    return out


def courses_page(conn: sa.Connection, limit: int, after: str | None = None) -> dict[str, Any]:
    """At most `limit` courses as list_courses gives them, by id after the cursor `after` (the
    `next` of the previous page), read by key: {courses, next (None on the last page)}."""
    last = None if after is None else decode_key("after", after, "courses", (str,))[0]
    ids = list(conn.execute(course_ids(None if last is None else str(last))
                            .limit(limit + 1)).scalars())
    more = len(ids) > limit
    ids = ids[:limit]
    return {"courses": list_courses(conn, ids) if ids else [],
            "next": encode_key("courses", [ids[-1]]) if more else None}


def get_course(conn: sa.Connection, course_id: str) -> dict[str, Any]:
    """One course as list_courses gives it; NotFound if neither registered nor seen."""
    for course in list_courses(conn, only=[course_id]):
        return course
    raise NotFound(f"No course {course_id!r}")
