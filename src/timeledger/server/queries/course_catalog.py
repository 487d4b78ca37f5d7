"""Every known course: the registry's entry over what events said about it."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from timeledger.server.store.projection_tables import course_registry, courses


def course_info(conn: sa.Connection) -> dict[str, dict[str, Any]]:
    """Every known course by id: the registry's entry over what events said."""
    out: dict[str, dict[str, Any]] = {}
    for row in conn.execute(sa.select(courses)):
        out[row.course_id] = {
            "course_id": row.course_id, "name": row.name or row.course_id,
            "subject": row.subject, "grade": None, "course_code": None,
            "app_name": row.app_name, "registered": False, "goals": {}, "total_lessons": None,
            "total_xp": None}
    for reg in conn.execute(sa.select(course_registry)):
        out[reg.course_id] = {
            "course_id": reg.course_id, "name": reg.name, "subject": reg.subject,
            "grade": reg.grade, "course_code": reg.course_code, "app_name": reg.app_name,
            "registered": True, "goals": orjson.loads(reg.goals),
            "total_lessons": reg.total_lessons, "total_xp": reg.total_xp}
    return out


def course_ref(info: dict[str, dict[str, Any]], course_id: str) -> dict[str, Any]:
    found = info.get(course_id)
    return {"id": course_id, "name": found["name"] if found else course_id}
