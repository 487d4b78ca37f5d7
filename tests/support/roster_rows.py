"""Roster records written straight into a platform's store, for tests that need a roster without
going through an import."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from timeledger.server.store.database import create_engine
from timeledger.server.store.roster_tables import (
    roster_classes,
    roster_courses,
    roster_enrollments,
    roster_orgs,
    roster_users,
)

WHEN = datetime(2025, 1, 1, tzinfo=UTC)


def _record(sourced_id: str) -> dict[str, Any]:
    return {"sourced_id": sourced_id, "status": "active", "date_last_modified": WHEN}


def add_rows(database_url: str, *rows: tuple[sa.Table, dict[str, Any]]) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            for table, values in rows:
                conn.execute(table.insert().values(**values))
    finally:
        engine.dispose()


def student(sourced_id: str, email: str, **fields: Any) -> tuple[sa.Table, dict[str, Any]]:
    return roster_users, {**_record(sourced_id), "enabled_user": True, "given_name": "Ada",
                          "family_name": "Lovelace", "email": email,
                          "email_lower": email.lower(), "role": "student", **fields}


def school(sourced_id: str, name: str) -> tuple[sa.Table, dict[str, Any]]:
    return roster_orgs, {**_record(sourced_id), "name": name, "type": "school"}


def course(sourced_id: str, title: str, code: str, org: str) -> tuple[sa.Table, dict[str, Any]]:
    return roster_courses, {**_record(sourced_id), "title": title, "course_code": code,
                            "org_sourced_id": org}


def klass(sourced_id: str, course_id: str, school_id: str) -> tuple[sa.Table, dict[str, Any]]:
    return roster_classes, {**_record(sourced_id), "title": f"Class {sourced_id}",
                            "course_sourced_id": course_id, "class_type": "scheduled",
                            "school_sourced_id": school_id, "term_sourced_ids": "term-1"}


def enrollment(sourced_id: str, user: str, class_id: str,
               school_id: str) -> tuple[sa.Table, dict[str, Any]]:
    return roster_enrollments, {**_record(sourced_id), "class_sourced_id": class_id,
                                "school_sourced_id": school_id, "user_sourced_id": user,
                                "role": "student"}
