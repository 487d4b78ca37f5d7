"""Which learners (seen in events, keyed by lower-cased e-mail) are which roster users.

A roster user is a learner when the learner's e-mail is the user's e-mail lower-cased, or when
one of the learner's actor ids is the user's sourcedId or ends in `/users/<sourcedId>` (the
OneRoster actor id form, e.g. https://sis.example/ims/oneroster/rostering/v1p2/users/s1000).
The link is worked out when asked, so a learner seen after the import links as well.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from timeledger.server.queries.errors import NotFound
from timeledger.server.store.projection_tables import learner_aliases, learners
from timeledger.server.store.roster_tables import roster_classes, roster_enrollments, roster_users

ONEROSTER_USERS_SEGMENT = "/users/"


def _actor_sourced_id(actor_id: str) -> str:
    return actor_id.rsplit(ONEROSTER_USERS_SEGMENT, 1)[-1]


def learner_emails_of_users(conn: sa.Connection,
                            users: Iterable[tuple[str, str | None]]) -> dict[str, set[str]]:
    """For each (sourcedId, lower-cased e-mail): the learner e-mails that are this user.

    A user's own e-mail is among them even before any event names it, so a learner who arrives
    later is already theirs."""
    linked: dict[str, set[str]] = {}
    for sourced_id, email in users:
        linked[sourced_id] = {email} if email else set()
    if not linked:
        return linked
    # One pass over the aliases that can name a roster user (not one per user).
    aliases = conn.execute(
        sa.select(learner_aliases.c.actor_id, learner_aliases.c.learner_email)
        .where(sa.or_(learner_aliases.c.actor_id.contains(ONEROSTER_USERS_SEGMENT),
                      learner_aliases.c.actor_id.in_(list(linked)))))
    for actor_id, learner_email in aliases:
        for candidate in {actor_id, _actor_sourced_id(actor_id)}:
            if candidate in linked:
                linked[candidate].add(learner_email)
    return linked


def student_learner_emails(conn: sa.Connection, class_ids: Iterable[str]) -> frozenset[str]:
    """The learners who are active students, actively enrolled in any of these classes."""
    ids = list(class_ids)
    if not ids:
        return frozenset()
    students = conn.execute(
        sa.select(roster_users.c.sourced_id, roster_users.c.email_lower).distinct()
        .join(roster_enrollments, roster_enrollments.c.user_sourced_id == roster_users.c.sourced_id)
        .where(roster_enrollments.c.class_sourced_id.in_(ids),
               roster_enrollments.c.status == "active", roster_enrollments.c.role == "student",
               roster_users.c.status == "active"))
    linked = learner_emails_of_users(conn, [(row.sourced_id, row.email_lower) for row in students])
    return frozenset(email for emails in linked.values() for email in emails)


def teacher_class_ids(conn: sa.Connection, teacher_sourced_id: str) -> list[str]:
    """The active classes the teacher is actively enrolled in as a teacher, by title."""
    return list(conn.execute(
        sa.select(roster_classes.c.sourced_id)
        .join(roster_enrollments, roster_enrollments.c.class_sourced_id
              == roster_classes.c.sourced_id)
        .where(roster_enrollments.c.user_sourced_id == teacher_sourced_id,
               roster_enrollments.c.role == "teacher", roster_enrollments.c.status == "active",
               roster_classes.c.status == "active")
        .order_by(roster_classes.c.title, roster_classes.c.sourced_id)).scalars())


def linked_student_count(conn: sa.Connection) -> tuple[int, int]:
    """(students linked to a learner seen in events, active students): for import's summary."""
    students = conn.execute(sa.select(roster_users.c.sourced_id, roster_users.c.email_lower)
                            .where(roster_users.c.role == "student",
                                   roster_users.c.status == "active")).all()
    linked = learner_emails_of_users(conn, [(row.sourced_id, row.email_lower) for row in students])
    seen = set(conn.execute(sa.select(learners.c.email)).scalars())
    return sum(1 for emails in linked.values() if emails & seen), len(students)


def class_learner_emails(conn: sa.Connection, class_id: str) -> frozenset[str]:
    """The learners of one roster class's students; NotFound if there is no such class."""
    if conn.execute(sa.select(roster_classes.c.sourced_id)
                    .where(roster_classes.c.sourced_id == class_id)).first() is None:
        raise NotFound(f"No class {class_id!r} in the roster")
    return student_learner_emails(conn, [class_id])
