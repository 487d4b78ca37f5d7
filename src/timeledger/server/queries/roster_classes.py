"""Roster classes for the dashboard: a teacher's classes, and a class's students with their
learner (the e-mail their activity is under, when they have any)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from timeledger.server.queries.errors import NotFound
from timeledger.server.queries.roster_links import learner_emails_of_users
from timeledger.server.store.projection_tables import learners
from timeledger.server.store.roster_tables import (
    roster_classes,
    roster_enrollments,
    roster_orgs,
    roster_users,
)


def _active_enrollments(role: str) -> sa.Select[Any]:
    return (sa.select(roster_enrollments.c.class_sourced_id, roster_users.c.sourced_id,
                      roster_users.c.given_name, roster_users.c.family_name,
                      roster_users.c.email_lower)
            .join(roster_users, roster_users.c.sourced_id == roster_enrollments.c.user_sourced_id)
            .where(roster_enrollments.c.role == role, roster_enrollments.c.status == "active",
                   roster_users.c.status == "active"))


def list_classes(conn: sa.Connection, class_ids: Collection[str] | None = None
                 ) -> list[dict[str, Any]]:
    """Active classes (only `class_ids` when given), by title: {sourced_id, title, school,
    teachers: [names], students: count}."""
    query = (sa.select(roster_classes.c.sourced_id, roster_classes.c.title,
                       roster_classes.c.class_code, roster_orgs.c.name.label("school"))
             .join(roster_orgs, roster_orgs.c.sourced_id == roster_classes.c.school_sourced_id,
                   isouter=True)
             .where(roster_classes.c.status == "active")
             .order_by(roster_classes.c.title, roster_classes.c.sourced_id))
    if class_ids is not None:
        query = query.where(roster_classes.c.sourced_id.in_(sorted(class_ids)))
    rows = conn.execute(query).all()
    ids = [row.sourced_id for row in rows]
    teachers: dict[str, list[str]] = {sid: [] for sid in ids}
    students: dict[str, int] = dict.fromkeys(ids, 0)
    if ids:
        for found in conn.execute(_active_enrollments("teacher")
                                  .where(roster_enrollments.c.class_sourced_id.in_(ids))
                                  .order_by(roster_users.c.family_name)):
            teachers[found.class_sourced_id].append(f"{found.given_name} {found.family_name}")
        for found in conn.execute(_active_enrollments("student")
                                  .where(roster_enrollments.c.class_sourced_id.in_(ids))):
            students[found.class_sourced_id] += 1
    return [{"sourced_id": row.sourced_id, "title": row.title, "class_code": row.class_code,
             "school": row.school, "teachers": teachers[row.sourced_id],
             "students": students[row.sourced_id]} for row in rows]


def class_students(conn: sa.Connection, class_id: str) -> list[dict[str, Any]]:
    """The class's active students by family name: {sourced_id, name, email, learner} where
    `learner` is the e-mail their activity is under (None before any)."""
    if conn.execute(sa.select(roster_classes.c.sourced_id)
                    .where(roster_classes.c.sourced_id == class_id)).first() is None:
        raise NotFound(f"No class {class_id!r}")
    rows = conn.execute(_active_enrollments("student")
                        .where(roster_enrollments.c.class_sourced_id == class_id)
                        .order_by(roster_users.c.family_name, roster_users.c.given_name)).all()
    linked = learner_emails_of_users(conn, [(row.sourced_id, row.email_lower) for row in rows])
    candidates = sorted({email for emails in linked.values() for email in emails})
    seen = set(conn.execute(sa.select(learners.c.email)
                            .where(learners.c.email.in_(candidates))).scalars())
    out = []
    for row in rows:
        active = sorted(linked[row.sourced_id] & seen)
        out.append({"sourced_id": row.sourced_id, "name": f"{row.given_name} {row.family_name}",
                    "email": row.email_lower, "learner": active[0] if active else None})
    return out


def roster_teachers(conn: sa.Connection) -> list[dict[str, str]]:
    """Active roster teachers by family name: {sourced_id, name} (the account form's choices)."""
    return [{"sourced_id": row.sourced_id, "name": f"{row.given_name} {row.family_name}"}
            for row in conn.execute(
                sa.select(roster_users.c.sourced_id, roster_users.c.given_name,
                          roster_users.c.family_name)
                .where(roster_users.c.role == "teacher", roster_users.c.status == "active")
                .order_by(roster_users.c.family_name, roster_users.c.sourced_id))]


def class_choices(conn: sa.Connection, class_ids: Collection[str] | None = None
                  ) -> list[dict[str, str]]:
    """Active classes (only `class_ids` when given) by title: {sourced_id, title}, for a picker
    (reads the classes table alone)."""
    query = (sa.select(roster_classes.c.sourced_id, roster_classes.c.title)
             .where(roster_classes.c.status == "active")
             .order_by(roster_classes.c.title, roster_classes.c.sourced_id))
    if class_ids is not None:
        query = query.where(roster_classes.c.sourced_id.in_(sorted(class_ids)))
    return [{"sourced_id": row.sourced_id, "title": row.title} for row in conn.execute(query)]
