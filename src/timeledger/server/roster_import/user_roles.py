"""Each roster user's primary role, kept on the user so `students` and `teachers` are one lookup.

The role is roles.csv's active primary role for the user; without one, their active secondary
role; else the strongest role among their active enrollments (teacher before aide, proctor,
administrator and student); else none.
"""

from __future__ import annotations

import sqlalchemy as sa

from timeledger.server.store.roster_tables import (
    roster_enrollments,
    roster_user_roles,
    roster_users,
)

_ENROLLMENT_ROLE_ORDER = ("teacher", "aide", "proctor", "administrator", "student")


def _enrollment_rank(role: str) -> int:
    return (_ENROLLMENT_ROLE_ORDER.index(role) if role in _ENROLLMENT_ROLE_ORDER
            else len(_ENROLLMENT_ROLE_ORDER))


def settle_user_roles(conn: sa.Connection) -> int:
    """Set every user's `role` from their roles and enrollments; how many users changed."""
    primary: dict[str, str] = {}
    secondary: dict[str, str] = {}
    for held in conn.execute(sa.select(roster_user_roles.c.user_sourced_id,
                                      roster_user_roles.c.role_type, roster_user_roles.c.role)
                            .where(roster_user_roles.c.status == "active")
                            .order_by(roster_user_roles.c.sourced_id)):
        kept = primary if held.role_type == "primary" else secondary
        kept.setdefault(held.user_sourced_id, held.role)
    enrolled: dict[str, str] = {}
    for enrollment in conn.execute(sa.select(roster_enrollments.c.user_sourced_id,
                                             roster_enrollments.c.role)
                                   .where(roster_enrollments.c.status == "active")):
        known = enrolled.get(enrollment.user_sourced_id)
        if known is None or _enrollment_rank(enrollment.role) < _enrollment_rank(known):
            enrolled[enrollment.user_sourced_id] = enrollment.role
    changes = []
    for row in conn.execute(sa.select(roster_users.c.sourced_id, roster_users.c.role)):
        role = (primary.get(row.sourced_id) or secondary.get(row.sourced_id)
                or enrolled.get(row.sourced_id))
        if role != row.role:
            changes.append({"key": row.sourced_id, "new_role": role})
    if changes:
        conn.execute(sa.update(roster_users)
                     .where(roster_users.c.sourced_id == sa.bindparam("key"))
                     .values(role=sa.bindparam("new_role")), changes)
    return len(changes)
