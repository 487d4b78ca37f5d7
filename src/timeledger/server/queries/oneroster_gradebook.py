"""OneRoster gradebook reads: the projected gradebook and the records written through the API.

Each collection is one SQL union, so filters, sorting and paging apply to both alike:
- assessmentLineItems: a projected line item per activity and course (its id is
  caliper.gradebook_ids.line_item_sourced_id) and the written line items;
- assessmentResults: a projected result per learner, line item and attempt (metadata.attempt,
  scoreDate = the completion's eventTime, scoreStatus "fully graded") and the written results.
A written record with a projected record's sourcedId stands in for it. A projected result's
student is the roster user with the learner's e-mail (lower-cased), else the e-mail itself.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from timeledger.caliper.times import format_utc
from timeledger.server.queries.errors import NotFound
from timeledger.server.queries.figures import xp
from timeledger.server.queries.oneroster_collection import (
    CollectionQuery,
    check_fields,
    read_page,
    select_fields,
)
from timeledger.server.queries.oneroster_filter import FilterField, FilterFields
from timeledger.server.store.gradebook_tables import written_line_items, written_results
from timeledger.server.store.projection_tables import gradebook_line_items, gradebook_results
from timeledger.server.store.roster_tables import roster_users
from timeledger.server.store.schema import UtcDateTime

# The official SDK numbers attempts with `status AND assessmentLineItem.sourcedId AND
# student.sourcedId`: three predicates, one more than the specification's two.
MAX_RESULT_PREDICATES = 3
PROJECTED_SCORE_STATUS = "fully graded"

LINE_ITEM_KEYS = ("sourcedId", "status", "dateLastModified", "title", "description", "class",
                  "course", "school", "component", "componentResource",
                  "parentAssessmentLineItem", "scoreScale", "resultValueMin", "resultValueMax",
                  "learningObjectiveSet", "metadata")
RESULT_KEYS = ("sourcedId", "status", "dateLastModified", "assessmentLineItem", "student",
               "score", "textScore", "scoreDate", "scoreStatus", "scorePercentile", "comment",
               "learningObjectiveSet", "inProgress", "incomplete", "late", "missing", "metadata")


def _null(kind: sa.types.TypeEngine[Any]) -> sa.ColumnElement[Any]:
    return sa.cast(sa.null(), kind)


def _text(value: str) -> sa.ColumnElement[str]:
    return sa.cast(sa.literal(value), sa.String(255))


def _line_items() -> sa.Subquery:
    p, w = gradebook_line_items.c, written_line_items.c
    projected = sa.select(
        p.sourced_id.label("sourced_id"), _text("active").label("status"),
        p.first_seen.label("date_last_modified"),
        sa.func.coalesce(p.activity_name, p.activity_id).label("title"),
        _null(sa.String(2000)).label("description"),
        _null(sa.String(255)).label("class_sourced_id"),
        sa.cast(p.course_id, sa.String(500)).label("course_sourced_id"),
        _null(sa.String(255)).label("school_sourced_id"),
        _null(sa.String(255)).label("component_sourced_id"),
        _null(sa.String(255)).label("component_resource_sourced_id"),
        _null(sa.String(255)).label("parent_sourced_id"),
        _null(sa.String(255)).label("score_scale_sourced_id"),
        sa.cast(sa.literal(0.0), sa.Float).label("result_value_min"),
        sa.cast(sa.literal(100.0), sa.Float).label("result_value_max"),
        _null(sa.Text()).label("metadata_json"), _null(sa.Text()).label("extra_json"),
        sa.cast(p.activity_id, sa.String(2000)).label("activity_id"),
        sa.cast(p.app_name, sa.String(300)).label("app_name"),
        sa.cast(p.subject, sa.String(50)).label("subject"),
    ).where(p.sourced_id.is_not(None),
            p.sourced_id.not_in(sa.select(w.sourced_id).scalar_subquery()))
    written = sa.select(
        w.sourced_id, w.status, w.date_last_modified, w.title, w.description,
        w.class_sourced_id, sa.cast(w.course_sourced_id, sa.String(500)), w.school_sourced_id,
        w.component_sourced_id, w.component_resource_sourced_id, w.parent_sourced_id,
        w.score_scale_sourced_id, w.result_value_min, w.result_value_max, w.metadata_json,
        w.extra_json, _null(sa.String(2000)), _null(sa.String(300)), _null(sa.String(50)))
    return sa.union_all(projected, written).subquery("line_items")


def _student_of(email: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """The roster user a learner's e-mail names (the first by sourcedId), else the e-mail."""
    user = sa.select(sa.func.min(roster_users.c.sourced_id)).where(
        roster_users.c.email_lower == email).scalar_subquery()
    return sa.func.coalesce(user, sa.cast(email, sa.String(320)))


def _results() -> sa.Subquery:
    p, w = gradebook_results.c, written_results.c
    projected = sa.select(
        p.sourced_id.label("sourced_id"), _text("active").label("status"),
        p.score_date.label("date_last_modified"),
        sa.cast(p.line_item_sourced_id, sa.String(255)).label("line_item_sourced_id"),
        sa.cast(_student_of(p.learner_email), sa.String(320)).label("student_sourced_id"),
        p.score.label("score"), _null(sa.String(300)).label("text_score"),
        p.score_date.label("score_time"), _null(sa.String(40)).label("score_date_text"),
        _text(PROJECTED_SCORE_STATUS).label("score_status"),
        _null(sa.Float()).label("score_percentile"), _null(sa.String(2000)).label("comment"),
        _null(sa.Text()).label("metadata_json"), _null(sa.Text()).label("extra_json"),
        p.attempt.label("attempt"), p.xp_milli.label("xp_milli"),
        p.total_questions.label("total_questions"),
        p.correct_questions.label("correct_questions"),
        p.mastered_units.label("mastered_units"), p.pct_complete.label("pct_complete"),
        sa.cast(p.run_id, sa.String(64)).label("run_id"),
        sa.cast(p.event_id, sa.String(200)).label("event_id"),
    ).where(p.sourced_id.is_not(None),
            p.sourced_id.not_in(sa.select(w.sourced_id).scalar_subquery()))
    written = sa.select(
        w.sourced_id, w.status, w.date_last_modified, w.line_item_sourced_id,
        sa.cast(w.student_sourced_id, sa.String(320)), w.score, w.text_score, w.score_time,
        w.score_date, w.score_status, w.score_percentile, w.comment, w.metadata_json,
        w.extra_json, _null(sa.Integer()), _null(sa.BigInteger()), _null(sa.Integer()),
        _null(sa.Integer()), _null(sa.Integer()), _null(sa.Float()), _null(sa.String(64)),
        _null(sa.String(200)))
    return sa.union_all(projected, written).subquery("results")


def _line_item_fields(u: sa.Subquery) -> FilterFields:
    c = u.c
    return {
        "sourcedId": FilterField(c.sourced_id), "status": FilterField(c.status),
        "dateLastModified": FilterField(sa.type_coerce(c.date_last_modified, UtcDateTime()),
                                        "datetime"),
        "title": FilterField(c.title), "description": FilterField(c.description),
        "class.sourcedId": FilterField(c.class_sourced_id),
        "course.sourcedId": FilterField(c.course_sourced_id),
        "school.sourcedId": FilterField(c.school_sourced_id),
        "component.sourcedId": FilterField(c.component_sourced_id),
        "componentResource.sourcedId": FilterField(c.component_resource_sourced_id),
        "parentAssessmentLineItem.sourcedId": FilterField(c.parent_sourced_id),
        "scoreScale.sourcedId": FilterField(c.score_scale_sourced_id),
        "resultValueMin": FilterField(c.result_value_min, "number"),
        "resultValueMax": FilterField(c.result_value_max, "number"),
    }


def _result_fields(u: sa.Subquery) -> FilterFields:
    c = u.c
    return {
        "sourcedId": FilterField(c.sourced_id), "status": FilterField(c.status),
        "dateLastModified": FilterField(sa.type_coerce(c.date_last_modified, UtcDateTime()),
                                        "datetime"),
        "assessmentLineItem.sourcedId": FilterField(c.line_item_sourced_id),
        "student.sourcedId": FilterField(c.student_sourced_id),
        "score": FilterField(c.score, "number"), "textScore": FilterField(c.text_score),
        "scoreDate": FilterField(sa.type_coerce(c.score_time, UtcDateTime()), "datetime"),
        "scoreStatus": FilterField(c.score_status),
        "scorePercentile": FilterField(c.score_percentile, "number"),
        "comment": FilterField(c.comment),
    }


def _ref(sourced_id: str | None) -> dict[str, str] | None:
    return None if sourced_id is None else {"sourcedId": sourced_id}


def _json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _present(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if value is not None}


def _line_item_record(row: sa.Row[Any]) -> dict[str, Any]:
    metadata = _json_object(row.metadata_json)
    if row.activity_id is not None:
        metadata = _present({"activityId": row.activity_id, "appName": row.app_name,
                             "subject": row.subject, "source": "caliper"})
    record = _present({
        "sourcedId": row.sourced_id, "status": row.status,
        "dateLastModified": format_utc(row.date_last_modified), "title": row.title,
        "description": row.description, "class": _ref(row.class_sourced_id),
        "course": _ref(row.course_sourced_id), "school": _ref(row.school_sourced_id),
        "component": _ref(row.component_sourced_id),
        "componentResource": _ref(row.component_resource_sourced_id),
        "parentAssessmentLineItem": _ref(row.parent_sourced_id),
        "scoreScale": _ref(row.score_scale_sourced_id),
        "resultValueMin": row.result_value_min, "resultValueMax": row.result_value_max,
    })
    record.update(_json_object(row.extra_json))
    record["metadata"] = metadata or None
    return record


def _result_record(row: sa.Row[Any]) -> dict[str, Any]:
    if row.attempt is not None:  # projected from a completion
        metadata: dict[str, Any] | None = _present({
            "attempt": row.attempt, "xp": xp(row.xp_milli),
            "totalQuestions": row.total_questions, "correctQuestions": row.correct_questions,
            "masteredUnits": row.mastered_units, "pctComplete": row.pct_complete,
            "runId": row.run_id, "eventId": row.event_id, "source": "caliper"})
        score_date = format_utc(row.score_time)
    else:
        metadata = _json_object(row.metadata_json) or None
        score_date = row.score_date_text
    record = _present({
        "sourcedId": row.sourced_id, "status": row.status,
        "dateLastModified": format_utc(row.date_last_modified),
        "assessmentLineItem": _ref(row.line_item_sourced_id),
        "student": _ref(row.student_sourced_id), "score": row.score,
        "textScore": row.text_score, "scoreDate": score_date, "scoreStatus": row.score_status,
        "scorePercentile": row.score_percentile, "comment": row.comment,
    })
    record.update(_json_object(row.extra_json))
    record["metadata"] = metadata
    return record


def list_line_items(conn: sa.Connection, query: CollectionQuery
                    ) -> tuple[list[dict[str, Any]], int]:
    """One page of assessmentLineItems (projected and written) and the count of all matched."""
    check_fields(query.fields, LINE_ITEM_KEYS)
    u = _line_items()
    page = read_page(conn, sa.select(u), _line_item_fields(u), u.c.sourced_id, query)
    return [select_fields(_line_item_record(r), query.fields) for r in page.rows], page.total


def get_line_item(conn: sa.Connection, sourced_id: str) -> dict[str, Any]:
    u = _line_items()
    row = conn.execute(sa.select(u).where(u.c.sourced_id == sourced_id)).first()
    if row is None:
        raise NotFound(f"No assessmentLineItem {sourced_id!r}")
    return _line_item_record(row)


def list_results(conn: sa.Connection, query: CollectionQuery
                 ) -> tuple[list[dict[str, Any]], int]:
    """One page of assessmentResults (projected and written) and the count of all matched."""
    check_fields(query.fields, RESULT_KEYS)
    u = _results()
    page = read_page(conn, sa.select(u), _result_fields(u), u.c.sourced_id, query,
                     MAX_RESULT_PREDICATES)
    return [select_fields(_result_record(r), query.fields) for r in page.rows], page.total


def get_result(conn: sa.Connection, sourced_id: str) -> dict[str, Any]:
    u = _results()
    row = conn.execute(sa.select(u).where(u.c.sourced_id == sourced_id)).first()
    if row is None:
        raise NotFound(f"No assessmentResult {sourced_id!r}")
    return _result_record(row)


def line_item_exists(conn: sa.Connection, sourced_id: str) -> bool:
    u = _line_items()
    return conn.execute(sa.select(u.c.sourced_id).where(u.c.sourced_id == sourced_id)
                        ).first() is not None


def result_exists(conn: sa.Connection, sourced_id: str) -> bool:
    u = _results()
    return conn.execute(sa.select(u.c.sourced_id).where(u.c.sourced_id == sourced_id)
                        ).first() is not None
