"""The gradebook: line items with their results per attempt, and course progress per learner."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from timeledger.server.pipeline.gradebook import score_micro
from timeledger.server.queries.course_catalog import course_info
from timeledger.server.queries.figures import iso, progress_of, xp
from timeledger.server.queries.figures import mean_score as mean_of_micro
from timeledger.server.queries.gradebook_cursor import (
    Cursor,
    ProjectedAfter,
    WrittenAfter,
    encode_cursor,
)
from timeledger.server.queries.gradebook_written import (
    app_name_of,
    written_line_items_of,
    written_results_by_line_item,
    written_results_page,
)
from timeledger.server.store.gradebook_tables import written_line_items
from timeledger.server.store.projection_tables import (
    course_progress as course_progress_table,
)
from timeledger.server.store.projection_tables import gradebook_line_items, gradebook_results

MAX_GRADEBOOK_PAGE = 1000  # the most results one gradebook page lists (the API's `limit`)
MAX_EXPORT_RESULTS = 100_000  # the most results one gradebook CSV download holds


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
        results.setdefault((row.course_id, row.activity_id), []).append(_projected_result(row))
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


def gradebook_page(conn: sa.Connection, learner: str | None, course: str | None,
                   limit: int, after: Cursor | None = None) -> dict[str, Any]:
    """One page of the gradebook: at most `limit` results (projected ones by learner, course,
    activity and attempt, then written ones by sourcedId), read by key so a page costs the same
    however long the history. `line_items` are the line items of the page's results (in the
    gradebook's order, each with its results on this page), `progress` the course progress of
    the page's (learner, course) pairs, `next` the cursor of the following page (None: last).
    A line item without any result is on no page."""
    projected: list[sa.Row[Any]] = []
    if not isinstance(after, WrittenAfter):
        projected = list(conn.execute(_projected_query(learner, course, limit + 1, after)))
    next_cursor: Cursor | None = None
    written: list[tuple[str, dict[str, Any]]] = []
    if len(projected) > limit:
        projected = projected[:limit]
        next_cursor = _projected_after(projected[-1])
    else:
        written = written_results_page(
            conn, learner, _line_item_ids(course),
            after.sourced_id if isinstance(after, WrittenAfter) else None,
            limit - len(projected) + 1)
        if len(projected) + len(written) > limit:
            written = written[:limit - len(projected)]
            next_cursor = (WrittenAfter(written[-1][1]["sourced_id"]) if written
                           else _projected_after(projected[-1]))
    info = course_info(conn)
    line_items = _page_line_items(conn, projected, written, info)
    pairs = {(row.learner_email, row.course_id) for row in projected} | {
        (result["learner"], item["course_id"]) for item in line_items
        for result in item["results"] if result["source"] == "written"}
    p = course_progress_table.c
    progress = [] if not pairs else _progress_rows(
        conn, sa.select(course_progress_table).where(
            sa.tuple_(p.learner_email, p.course_id).in_(sorted(pairs)))
        .order_by(p.learner_email, p.course_id), info)
    return {"line_items": line_items, "progress": progress,
            "next": None if next_cursor is None else encode_cursor(next_cursor)}


def _projected_query(learner: str | None, course: str | None, limit: int,
                     after: ProjectedAfter | None) -> sa.Select[Any]:
    """Results in key order after `after`: the filtered columns lead the key (by the primary
    key, or by course first), and only the rest are compared with the cursor, so the read starts
    at the cursor in the index however many results come before it."""
    r = gradebook_results.c
    fixed = {"learner": (r.learner_email, learner), "course": (r.course_id, course)}
    given = [name for name in ("course", "learner") if fixed[name][1] is not None]
    lead = ["course", "learner"] if given == ["course"] else ["learner", "course"]  # indexes
    key = [fixed[name][0] for name in lead] + [r.activity_id, r.attempt]
    query = sa.select(gradebook_results).where(
        *(fixed[name][0] == fixed[name][1] for name in given)).order_by(*key).limit(limit)
    if after is not None:
        values = {"learner_email": after.learner, "course_id": after.course_id,
                  "activity_id": after.activity_id, "attempt": after.attempt}
        rest = key[len(given):]
        query = query.where(sa.tuple_(*rest) > sa.tuple_(
            *(sa.literal(values[column.name]) for column in rest)))
    return query


def _projected_after(row: sa.Row[Any]) -> ProjectedAfter:
    return ProjectedAfter(row.learner_email, row.course_id, row.activity_id, row.attempt)


def _line_item_ids(course: str | None) -> sa.Select[Any]:
    """The sourcedIds of the line items written results may be listed on (of one course)."""
    g, w = gradebook_line_items.c, written_line_items.c
    projected = sa.select(g.sourced_id).where(g.sourced_id.is_not(None))
    own = sa.select(w.sourced_id).where(w.status == "active")
    if course is not None:
        projected = projected.where(g.course_id == course)
        own = own.where(w.course_sourced_id == course)
    return sa.select(sa.union(projected, own).subquery().c[0])


def _page_line_items(conn: sa.Connection, projected: list[sa.Row[Any]],
                     written: list[tuple[str, dict[str, Any]]],
                     info: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    g = gradebook_line_items.c
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in projected:
        by_key.setdefault((row.course_id, row.activity_id), []).append(_projected_result(row))
    by_sourced_id: dict[str, list[dict[str, Any]]] = {}
    for line_item_id, result in sorted(written, key=lambda found: (
            found[1]["learner"], found[1]["score_date"])):  # as `gradebook` lists them
        by_sourced_id.setdefault(line_item_id, []).append(result)
    conditions = []
    if by_key:
        conditions.append(sa.tuple_(g.course_id, g.activity_id).in_(sorted(by_key)))
    if by_sourced_id:
        conditions.append(g.sourced_id.in_(sorted(by_sourced_id)))
    line_items = []
    if conditions:
        for item in conn.execute(sa.select(gradebook_line_items).where(sa.or_(*conditions))
                                 .order_by(g.course_id, g.first_seen, g.activity_id)):
            found = by_key.get((item.course_id, item.activity_id), []) + by_sourced_id.pop(
                item.sourced_id, [])
            line_items.append(_line_item(item.course_id, item.activity_id, item.activity_name,
                                         item.subject, item.app_name, found, info))
    if by_sourced_id:
        w = written_line_items.c
        for record in conn.execute(sa.select(written_line_items)
                                   .where(w.sourced_id.in_(sorted(by_sourced_id)))
                                   .order_by(w.course_sourced_id, w.date_last_modified,
                                             w.sourced_id)):
            line_items.append(_line_item(
                record.course_sourced_id or "", record.sourced_id, record.title, "",
                app_name_of(record.metadata_json), by_sourced_id[record.sourced_id], info))
    return line_items


def _line_item(course_id: str, activity_id: str, activity_name: str | None, subject: str,
               app_name: str, found: list[dict[str, Any]],
               info: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "course_id": course_id, "course_name": info.get(course_id, {}).get("name", course_id),
        "activity_id": activity_id, "activity_name": activity_name, "subject": subject,
        "app_name": app_name, "results": found, "mean_score": mean_score(found),
    }


def _projected_result(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "learner": row.learner_email, "attempt": row.attempt, "score": row.score,
        "total_questions": row.total_questions, "correct_questions": row.correct_questions,
        "xp": xp(row.xp_milli), "mastered_units": row.mastered_units,
        "pct_complete": row.pct_complete, "score_date": iso(row.score_date),
        "event_id": row.event_id, "run_id": row.run_id, "source": "caliper",
        "sourced_id": row.sourced_id,
    }


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
