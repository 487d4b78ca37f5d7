"""A learner as the adapter's `/user/verify` and `/user/me` see them, found by e-mail.

The user is the roster user (OneRoster import) whose lower-cased e-mail matches; two such users are
ambiguous (`AmbiguousUser`). Without a roster, a learner known from events is the user: its id is
the `…/users/<sourcedId>` tail of its actor id, else its e-mail. Anyone else is not found.
Daily goals are summed over the learner's courses (dailyAccuracy: the highest); XP today is the
platform's local day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from timeledger.server.queries.course_catalog import course_info
from timeledger.server.queries.errors import InvalidParameter, NotFound, QueryError
from timeledger.server.queries.figures import xp
from timeledger.server.store.projection_tables import learner_days, learners
from timeledger.server.store.roster_tables import (
    roster_classes,
    roster_courses,
    roster_enrollments,
    roster_orgs,
    roster_users,
)

USERS_PATH = "/users/"
MAX_EMAIL_CHARS = 320


class AmbiguousUser(QueryError):
    """More than one roster user has the e-mail."""


@dataclass(frozen=True, slots=True)
class FoundUser:
    id: str
    email: str
    roster: sa.Row[Any] | None  # the roster user, when the roster has one
    learner: sa.Row[Any] | None  # the learner seen in events, when there is one


def _checked(email: str) -> str:
    text = email.strip().lower()
    if not text or len(text) > MAX_EMAIL_CHARS or "@" not in text:
        raise InvalidParameter("email", f"expected an e-mail address of at most "
                                        f"{MAX_EMAIL_CHARS} characters")
    return text


def _id_from_actor(actor_id: str, email: str) -> str:
    _, found, tail = actor_id.rpartition(USERS_PATH)
    return tail if found and tail and "/" not in tail else email


def find_user(conn: sa.Connection, email: str) -> FoundUser | None:
    """The user with this e-mail, None when there is none; AmbiguousUser for several."""
    wanted = _checked(email)
    u = roster_users.c
    matches = conn.execute(sa.select(roster_users).where(
        u.email_lower == wanted, u.status == "active").order_by(u.sourced_id).limit(2)).all()
    if len(matches) > 1:
        raise AmbiguousUser(f"More than one roster user has the e-mail {wanted}")
    learner = conn.execute(sa.select(learners).where(learners.c.email == wanted)).first()
    if matches:
        return FoundUser(matches[0].sourced_id, matches[0].email or wanted, matches[0], learner)
    if learner is not None:
        return FoundUser(_id_from_actor(learner.first_actor_id, wanted), wanted, None, learner)
    return None


def verify_user(conn: sa.Connection, email: str) -> dict[str, Any]:
    """{verified: true, timebackId} for a user with this e-mail, else {verified: false}."""
    found = find_user(conn, email)
    return {"verified": False} if found is None else {"verified": True, "timebackId": found.id}


def _name(found: FoundUser) -> str | None:
    if found.roster is not None:
        parts = [found.roster.preferred_given_name or found.roster.given_name,
                 found.roster.preferred_family_name or found.roster.family_name]
        return " ".join(p for p in parts if p) or None
    return found.learner.name if found.learner is not None else None


def _school(conn: sa.Connection, found: FoundUser) -> dict[str, str] | None:
    org_id = found.roster.primary_org_sourced_id if found.roster is not None else None
    if not org_id:
        return None
    name = conn.execute(sa.select(roster_orgs.c.name).where(
        roster_orgs.c.sourced_id == org_id)).scalar_one_or_none()
    return {"id": org_id, "name": name or org_id}


def _grade(found: FoundUser) -> int | None:
    text = found.roster.grades if found.roster is not None else None
    grades = [int(g) for g in (text or "").split(",") if g.strip().lstrip("-").isdigit()]
    return max(grades) if grades else None


def _course_ids(conn: sa.Connection, found: FoundUser) -> list[str]:
    """Courses of the user's active enrollments, then the courses of their activity."""
    ids: list[str] = []
    if found.roster is not None:
        e, k = roster_enrollments.c, roster_classes.c
        ids += conn.execute(
            sa.select(k.course_sourced_id).select_from(roster_enrollments.join(
                roster_classes, k.sourced_id == e.class_sourced_id))
            .where(e.user_sourced_id == found.id, e.status == "active", k.status == "active")
            .order_by(k.course_sourced_id)).scalars().all()
    if found.learner is not None:
        d = learner_days.c
        ids += conn.execute(sa.select(d.course_id).where(d.learner_email == found.learner.email)
                            .group_by(d.course_id).order_by(d.course_id)).scalars().all()
    return list(dict.fromkeys(ids))


def _courses(conn: sa.Connection, ids: list[str]) -> list[dict[str, str]]:
    info = course_info(conn)
    rostered = {row.sourced_id: row for row in conn.execute(
        sa.select(roster_courses).where(roster_courses.c.sourced_id.in_(ids)))}
    out = []
    for course_id in ids:
        known = info.get(course_id, {})
        roster = rostered.get(course_id)
        out.append({
            "id": course_id,
            "code": (roster.course_code if roster is not None else None)
            or known.get("course_code") or course_id,
            "name": (roster.title if roster is not None else None)
            or known.get("name") or course_id})
    return out


def _goals(conn: sa.Connection, ids: list[str]) -> dict[str, float]:
    info = course_info(conn)
    goals: dict[str, float] = {}
    for course_id in ids:
        for name, value in (info.get(course_id, {}).get("goals") or {}).items():
            if not isinstance(value, int | float):
                continue
            goals[name] = max(goals.get(name, value), value) if name == "dailyAccuracy" \
                else goals.get(name, 0) + value
    return goals


def _xp(conn: sa.Connection, found: FoundUser, today: date) -> dict[str, int | float]:
    if found.learner is None:
        return {"today": 0, "all": 0}
    d = learner_days.c
    total = sa.func.coalesce(sa.func.sum(d.xp_milli), 0)
    mine = d.learner_email == found.learner.email
    all_time = conn.execute(sa.select(total).where(mine)).scalar_one()
    on_day = conn.execute(sa.select(total).where(mine, d.local_date == today.isoformat())
                          ).scalar_one()
    return {"today": xp(int(on_day)), "all": xp(int(all_time))}


def user_profile(conn: sa.Connection, email: str, today: date) -> dict[str, Any]:
    """{id, email, name, school: {id, name}|None, grade, courses: [{id, code, name}], goals,
    xp: {today, all}}; NotFound without a user, AmbiguousUser for several."""
    found = find_user(conn, email)
    if found is None:
        raise NotFound(f"No user has the e-mail {_checked(email)}")
    ids = _course_ids(conn, found)
    return {"id": found.id, "email": found.email, "name": _name(found),
            "school": _school(conn, found), "grade": _grade(found),
            "courses": _courses(conn, ids), "goals": _goals(conn, ids),
            "xp": _xp(conn, found, today)}
