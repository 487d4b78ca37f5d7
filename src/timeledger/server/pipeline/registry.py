"""The course registry: courses, goals and totalLessons loaded from timeback.config.json files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from timeledger.config import TimebackConfig
from timeledger.server.pipeline.upserts import upsert
from timeledger.server.store.projection_tables import course_registry

_VALUES = ("name", "subject", "grade", "course_code", "app_name", "goals", "total_lessons",
           "total_xp", "env", "source", "loaded_at")


def _replace(_c: Any, new: Any) -> dict[str, Any]:
    return {name: new[name] for name in _VALUES}


def register_courses(conn: sa.Connection, config: TimebackConfig, source: str,
                     now: datetime) -> int:
    """Add or replace the config's courses (keyed by course id); returns how many."""
    rows = [{
        "course_id": course.course_id, "name": course.name, "subject": course.subject,
        "grade": course.grade, "course_code": course.course_code, "app_name": config.app_name,
        "goals": orjson.dumps(course.goals).decode(), "total_lessons": course.total_lessons,
        "total_xp": course.total_xp, "env": config.env, "source": source, "loaded_at": now,
    } for course in config.courses]
    upsert(conn, course_registry, rows, ["course_id"], custom=_replace)
    return len(rows)
