"""Every known course: the registry's entry over what events said about it."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
import sqlalchemy as sa

from timeledger.server.store.projection_tables import course_registry, courses


def course_info(conn: sa.Connection,
                ids: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every known course by id (or those of `ids`): the registry's entry over what events
    said."""
    out: dict[str, dict[str, Any]] = {}
    seen, registered = sa.select(courses), sa.select(course_registry)
    if ids is not None:
        seen = seen.where(courses.c.course_id.in_(sorted(ids)))
        registered = registered.where(course_registry.c.course_id.in_(sorted(ids)))
    for row in conn.execute(seen):
        out[row.course_id] = {
            "course_id": row.course_id, "name": row.name or row.course_id,
            "subject": row.subject, "grade": None, "course_code": None,
            "app_name": row.app_name, "registered": False, "goals": {}, "total_lessons": None,
            "total_xp": None}
    for reg in conn.execute(registered):
        out[reg.course_id] = {
            "course_id": reg.course_id, "name": reg.name, "subject": reg.subject,
            "grade": reg.grade, "course_code": reg.course_code, "app_name": reg.app_name,
            "registered": True, "goals": orjson.loads(reg.goals),
            "total_lessons": reg.total_lessons, "total_xp": reg.total_xp}
    return out


def course_ids(after: str | None) -> sa.Select[Any]:
    """The ids of every known course after `after`, in order (both tables' primary keys)."""
    seen = sa.select(courses.c.course_id.label("course_id"))
    registered = sa.select(course_registry.c.course_id.label("course_id"))
    if after is not None:
        seen = seen.where(courses.c.course_id > after)
        registered = registered.where(course_registry.c.course_id > after)
    known = sa.union(seen, registered).subquery()
    return sa.select(known.c.course_id).order_by(known.c.course_id)


def course_ref(info: dict[str, dict[str, Any]], course_id: str) -> dict[str, Any]:
    found = info.get(course_id)
    return {"id": course_id, "name": found["name"] if found else course_id}
