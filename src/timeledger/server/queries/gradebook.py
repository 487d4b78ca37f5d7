"""The gradebook: line items with their results per attempt, and course progress per learner."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from timeledger.server.pipeline.gradebook import score_micro
from timeledger.server.queries.course_catalog import course_info
from timeledger.server.queries.figures import iso, progress_of, xp
from timeledger.server.queries.figures import mean_score as mean_of_micro
from timeledger.server.queries.gradebook_written import (
    app_name_of,
    written_line_items_of,
    written_results_by_line_item,
)
from timeledger.server.store.projection_tables import (
    course_progress as course_progress_table,
)
from timeledger.server.store.projection_tables import gradebook_line_items, gradebook_results


def gradebook(conn: sa.Connection, learner: str | None = None,
              course: str | None = None, newest: int | None = None) -> dict[str, Any]:
    """Line items (one per activity and course) with their results, and course progress, for
    one learner (email) and/or one course, or everything.

    Returns {line_items: [{course_id, course_name, activity_id, activity_name, subject,
    app_name, mean_score (of the listed results that have a score, 1 decimal; None without),
    results: [{learner, attempt, score, total_questions, correct_questions, xp,
    mastered_units, pct_complete, score_date, event_id, run_id, source: "caliper"|"written",
    sourced_id}]}], progress: [{learner,
    course_id, course_name, progress, source: "pctCompleteApp"|"masteredUnits"|None,
    pct_complete, mastered_units, total_lessons, completions, xp}]}. With a learner, only the
    line items they have results on are listed. Results and line items written through the
    OneRoster gradebook API appear too (source "written"; queries/gradebook_written.py).
    `newest` (with a learner): only the learner's newest projected results by score date, read
    by index, so a page costs the same however many attempts the learner has made."""
    info = course_info(conn)
    r = gradebook_results.c
    results_query = sa.select(gradebook_results).order_by(r.learner_email, r.attempt)
    items_query = sa.select(gradebook_line_items).order_by(
        gradebook_line_items.c.course_id, gradebook_line_items.c.first_seen,
        gradebook_line_items.c.activity_id)
    p = course_progress_table.c
    progress_query = sa.select(course_progress_table).order_by(p.learner_email, p.course_id)
    if learner is not None:
        results_query = results_query.where(r.learner_email == learner)
        if newest is not None:
            results_query = results_query.order_by(None).order_by(
                r.learner_email.desc(), r.score_date.desc()).limit(newest)
        progress_query = progress_query.where(p.learner_email == learner)
    if course is not None:
        results_query = results_query.where(r.course_id == course)
        items_query = items_query.where(gradebook_line_items.c.course_id == course)
        progress_query = progress_query.where(p.course_id == course)
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in conn.execute(results_query):
        results.setdefault((row.course_id, row.activity_id), []).append({
            "learner": row.learner_email, "attempt": row.attempt, "score": row.score,
            "total_questions": row.total_questions, "correct_questions": row.correct_questions,
            "xp": xp(row.xp_milli), "mastered_units": row.mastered_units,
            "pct_complete": row.pct_complete, "score_date": iso(row.score_date),
            "event_id": row.event_id, "run_id": row.run_id, "source": "caliper",
            "sourced_id": row.sourced_id,
        })
    written = written_results_by_line_item(conn, learner)
    line_items = []
    projected_ids = set()
    for item in conn.execute(items_query):
        projected_ids.add(item.sourced_id)
        found = results.get((item.course_id, item.activity_id), []) + written.pop(
            item.sourced_id, [])
        if learner is not None and not found:
            continue
        line_items.append({
            "course_id": item.course_id,
            "course_name": info.get(item.course_id, {}).get("name", item.course_id),
            "activity_id": item.activity_id, "activity_name": item.activity_name,
            "subject": item.subject, "app_name": item.app_name, "results": found,
            "mean_score": mean_score(found),
        })
    for record in written_line_items_of(conn, course):
        found = written.pop(record.sourced_id, [])
        if record.sourced_id in projected_ids or (learner is not None and not found):
            continue
        course_id = record.course_sourced_id or ""
        line_items.append({
            "course_id": course_id, "course_name": info.get(course_id, {}).get("name", course_id),
            "activity_id": record.sourced_id, "activity_name": record.title, "subject": "",
            "app_name": app_name_of(record.metadata_json), "results": found,
            "mean_score": mean_score(found),
        })
    progress = _progress_rows(conn, progress_query, info)
    return {"line_items": line_items, "progress": progress}


def course_progress(conn: sa.Connection, course: str) -> list[dict[str, Any]]:
    """The course's progress per learner, as `gradebook(course=...)` lists it, without reading
    a single result."""
    c = course_progress_table.c
    return _progress_rows(conn, sa.select(course_progress_table).where(c.course_id == course)
                          .order_by(c.learner_email, c.course_id), course_info(conn))


def _progress_rows(conn: sa.Connection, query: sa.Select[Any],
                   info: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    progress = []
    for row in conn.execute(query):
        course_of = info.get(row.course_id, {})
        total_lessons = course_of.get("total_lessons")
        value, source = progress_of(row.pct_complete, row.mastered_units, total_lessons)
        progress.append({
            "learner": row.learner_email, "course_id": row.course_id,
            "course_name": course_of.get("name", row.course_id), "progress": value,
            "source": source, "pct_complete": row.pct_complete,
            "mastered_units": row.mastered_units, "total_lessons": total_lessons,
            "completions": row.completions, "xp": xp(row.xp_milli),
        })
    return progress


def mean_score(results: list[dict[str, Any]]) -> float | None:
    """The mean of the scores given (results without questions have none), to 1 decimal."""
    scores = [r["score"] for r in results if r["score"] is not None]
    return mean_of_micro(sum(score_micro(score) for score in scores), len(scores))
