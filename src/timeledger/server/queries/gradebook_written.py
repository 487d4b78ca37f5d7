"""Results written through the OneRoster gradebook API, in the dashboard gradebook's shape.

A written result's learner is its roster student's e-mail (lower-cased), else the student's
sourcedId; it carries no XP (XP comes from events) and its attempt is `metadata.attempt` when the
writer gave one. Only active results are listed.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from timeledger.caliper.times import format_utc
from timeledger.server.store.gradebook_tables import written_line_items, written_results
from timeledger.server.store.roster_tables import roster_users


def _attempt(metadata_json: str | None) -> int | None:
    metadata = json.loads(metadata_json) if metadata_json else None
    attempt = metadata.get("attempt") if isinstance(metadata, dict) else None
    return attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else None


def _written_query(conn: sa.Connection, learner: str | None) -> sa.Select[Any]:
    r, u = written_results.c, roster_users.c
    learner_of = sa.func.coalesce(u.email_lower, r.student_sourced_id)
    query = (sa.select(r.sourced_id, r.line_item_sourced_id, r.score, r.score_time,
                       r.metadata_json, learner_of.label("learner"))
             .select_from(written_results.outerjoin(
                 roster_users, u.sourced_id == r.student_sourced_id))
             .where(r.status == "active"))
    if learner is not None:  # by the student index: the learner's roster ids, or their own id
        ids = [*conn.execute(sa.select(u.sourced_id).where(u.email_lower == learner)).scalars(),
               learner]
        query = query.where(r.student_sourced_id.in_(ids), learner_of == learner)
    return query


def _written_result(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "learner": row.learner, "attempt": _attempt(row.metadata_json), "score": row.score,
        "total_questions": None, "correct_questions": None, "xp": 0,
        "mastered_units": None, "pct_complete": None,
        "score_date": format_utc(row.score_time), "event_id": None, "run_id": None,
        "source": "written", "sourced_id": row.sourced_id,
    }


def written_results_by_line_item(conn: sa.Connection, learner: str | None
                                 ) -> dict[str, list[dict[str, Any]]]:
    """Active written results keyed by their line item's sourcedId (for one learner's e-mail)."""
    query = _written_query(conn, learner)
    found: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(query.order_by(query.selected_columns.learner,
                                           written_results.c.score_time)):
        found.setdefault(row.line_item_sourced_id, []).append(_written_result(row))
    return found


def written_results_page(conn: sa.Connection, learner: str | None,
                         line_item_ids: sa.Select[Any], after: str | None, limit: int
                         ) -> list[tuple[str, dict[str, Any]]]:
    """At most `limit` active written results on the line items `line_item_ids` selects, by
    sourcedId after `after`, each with its line item's sourcedId."""
    r = written_results.c
    query = _written_query(conn, learner).where(r.line_item_sourced_id.in_(line_item_ids))
    if after is not None:
        query = query.where(r.sourced_id > after)
    return [(row.line_item_sourced_id, _written_result(row))
            for row in conn.execute(query.order_by(r.sourced_id).limit(limit))]


def written_line_items_of(conn: sa.Connection, course: str | None) -> list[sa.Row[Any]]:
    """Active written line items (of one course), oldest first."""
    w = written_line_items.c
    query = (sa.select(written_line_items).where(w.status == "active")
             .order_by(w.course_sourced_id, w.date_last_modified, w.sourced_id))
    if course is not None:
        query = query.where(w.course_sourced_id == course)
    return list(conn.execute(query))


def app_name_of(metadata_json: str | None) -> str:
    metadata = json.loads(metadata_json) if metadata_json else None
    name = metadata.get("appName") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""
