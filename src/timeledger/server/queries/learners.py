"""Learners: who they are (email and actor ids), their totals, and their days against goals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from datetime import date
from typing import Any

import sqlalchemy as sa

from timeledger.server.queries.course_catalog import course_info
from timeledger.server.queries.date_parameters import check_range
from timeledger.server.queries.errors import NotFound
from timeledger.server.queries.figures import accuracy, iso, minutes, sum_figures, xp
from timeledger.server.queries.page_cursor import decode_key, encode_key
from timeledger.server.store.projection_tables import (
    learner_aliases,
    learner_course_totals,
    learner_days,
    learner_totals,
    learners,
)

MAX_LEARNERS_PAGE = 1000  # the most learners one page of GET /api/v1/learners lists
_SUMS = ("active_ms", "inactive_ms", "xp_milli", "completions", "total_questions",
         "correct_questions", "mastered_units")


def resolve_learner(conn: sa.Connection, learner: str) -> str:
    """The learner's email, from an email (any case) or one of their actor ids; else NotFound."""
    text = learner.strip()
    email = conn.execute(sa.select(learners.c.email)
                         .where(learners.c.email == text.lower())).scalar_one_or_none()
    if email is not None:
        return str(email)
    alias = conn.execute(
        sa.select(learner_aliases.c.learner_email).where(learner_aliases.c.actor_id == text)
        .order_by(learner_aliases.c.first_seen, learner_aliases.c.learner_email).limit(1)
    ).scalar_one_or_none()
    if alias is None:
        raise NotFound(f"No learner {learner!r} (expected an email or an actor id)")
    return str(alias)


def _totals(sums: dict[str, int], days_active: int) -> dict[str, Any]:
    return {**sum_figures(sums), "days_active": days_active}


def _identity(conn: sa.Connection, emails: list[str] | None = None) -> list[dict[str, Any]]:
    query = sa.select(learners).order_by(learners.c.email)
    alias_query = sa.select(learner_aliases).order_by(learner_aliases.c.first_seen,
                                                      learner_aliases.c.actor_id)
    if emails is not None:
        query = query.where(learners.c.email.in_(emails))
        alias_query = alias_query.where(learner_aliases.c.learner_email.in_(emails))
    actor_ids: dict[str, list[str]] = defaultdict(list)
    for alias in conn.execute(alias_query):
        actor_ids[alias.learner_email].append(alias.actor_id)
    return [{"email": row.email, "name": row.name, "actor_ids": actor_ids[row.email],
             "first_seen": iso(row.first_seen), "last_seen": iso(row.last_seen)}
            for row in conn.execute(query)]


def list_learners(conn: sa.Connection,
                  emails: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Every learner (or those of `emails`) with all-time totals, run and flag counts, ordered by
    email. Read from the running totals: one row per learner, however long their history.

    Each: {email, name, actor_ids, first_seen, last_seen, totals: {active_minutes,
    inactive_minutes, xp, completions, total_questions, correct_questions, accuracy,
    mastered_units, days_active, runs, flags}}."""
    t = learner_totals.c
    query = sa.select(learner_totals)
    if emails is not None:
        query = query.where(t.learner_email.in_(sorted(emails)))
    stored = {row.learner_email: row for row in conn.execute(query)}
    out = []
    for person in _identity(conn, None if emails is None else sorted(emails)):
        row = stored.get(person["email"])
        values = {name: int(getattr(row, name)) for name in _SUMS} if row else dict.fromkeys(
            _SUMS, 0)
        totals = _totals(values, int(row.days_active) if row else 0)
        totals["runs"] = int(row.runs) if row else 0
        totals["flags"] = int(row.flags) if row else 0
        out.append({**person, "totals": totals})
    return out


# How the dashboard's learner table sorts: the columns each order reads, and its key on a row of
# them (with email and name), giving what the full row shows, so a figure sorts as it reads.
LEARNER_SORTS: dict[str, tuple[tuple[str, ...], Callable[[Any], Any]]] = {
    "name": ((), lambda row: (row.name or row.email).lower()),
    "email": ((), lambda row: row.email),
    "active_minutes": (("active_ms",), lambda row: minutes(row.active_ms)),
    "xp": (("xp_milli",), lambda row: xp(row.xp_milli)),
    "completions": (("completions",), lambda row: row.completions or 0),
    "accuracy": (("total_questions", "correct_questions"), lambda row: -1 if (
        a := accuracy(row.total_questions, row.correct_questions)) is None else a),
    "days_active": (("days_active",), lambda row: row.days_active or 0),
    "runs": (("runs",), lambda row: row.runs or 0),
    "flags": (("flags",), lambda row: row.flags or 0),
    "last_seen": ((), lambda row: iso(row.last_seen) or ""),
}


def listed_learners(conn: sa.Connection, needle: str, sort: str, descending: bool,
                    first: int, count: int) -> tuple[list[dict[str, Any]], int]:
    """The dashboard's table: learners whose email, name (lowercased) or an actor id
    (lowercased) holds `needle` (lowercase; '' for all), sorted by `LEARNER_SORTS[sort]` (ties
    by email), rows `first` to `first + count` of them as list_learners gives each, and how many
    matched. The search and sort read a narrow row per learner (email, name and the sort's
    columns); only the page's rows are read in full."""
    totals, key = LEARNER_SORTS[sort]
    columns = [learners.c.email, learners.c.name,
               *([learners.c.last_seen] if sort == "last_seen" else []),
               *(learner_totals.c[name] for name in totals)]
    query = sa.select(*columns).order_by(learners.c.email)
    if totals:
        query = query.select_from(learners.outerjoin(
            learner_totals, learner_totals.c.learner_email == learners.c.email))
    light = list(conn.execute(query).all())
    if needle:
        aliased = {row.learner_email for row in conn.execute(
            sa.select(learner_aliases.c.learner_email, learner_aliases.c.actor_id))
            if needle in row.actor_id.lower()}
        light = [row for row in light if needle in row.email
                 or needle in (row.name or "").lower() or row.email in aliased]
    light.sort(key=key, reverse=descending)
    shown = [row.email for row in light[first:first + count]]
    full = {row["email"]: row for row in list_learners(conn, shown)} if shown else {}
    return [full[email] for email in shown], len(light)


def learners_page(conn: sa.Connection, limit: int, after: str | None = None) -> dict[str, Any]:
    """At most `limit` learners as list_learners gives them, by email after the cursor `after`
    (the `next` of the previous page), read by key: {learners, next (None on the last page)}."""
    query = sa.select(learners.c.email).order_by(learners.c.email).limit(limit + 1)
    if after is not None:
        (last,) = decode_key("after", after, "learners", (str,))
        query = query.where(learners.c.email > last)
    emails = list(conn.execute(query).scalars())
    more = len(emails) > limit
    emails = emails[:limit]
    return {"learners": list_learners(conn, emails) if emails else [],
            "next": encode_key("learners", [emails[-1]]) if more else None}


def learner_names(conn: sa.Connection, emails: Collection[str]) -> dict[str, str | None]:
    """The names of these learners (by email; those unknown are left out)."""
    wanted = sorted(emails)
    if not wanted:
        return {}
    return {row.email: row.name for row in conn.execute(
        sa.select(learners.c.email, learners.c.name).where(learners.c.email.in_(wanted)))}


def learner_courses(conn: sa.Connection, email: str) -> list[str]:
    """The ids of the courses a learner has activity in, sorted."""
    t = learner_course_totals.c
    return list(conn.execute(sa.select(t.course_id).where(t.learner_email == email)
                             .order_by(t.course_id)).scalars())


def _goals_met(goals: dict[str, float], day: dict[str, int]) -> dict[str, bool | None]:
    measured: dict[str, float | None] = {
        "dailyXp": day["xp_milli"] / 1000,
        "dailyLessons": day["completions"],
        "dailyActiveMinutes": day["active_ms"] / 60000,
        "dailyAccuracy": accuracy(day["total_questions"], day["correct_questions"]),
        "dailyMasteredUnits": day["mastered_units"],
    }
    met: dict[str, bool | None] = {}
    for name, goal in goals.items():
        if name in measured:
            value = measured[name]
            met[name] = None if value is None else value >= goal
    return met


def last_active_day(conn: sa.Connection, email: str) -> date | None:
    """The learner's latest day with activity (an index seek), or None."""
    found = conn.execute(sa.select(sa.func.max(learner_days.c.local_date))
                         .where(learner_days.c.learner_email == email)).scalar_one_or_none()
    if found is None:
        return None
    return found if isinstance(found, date) else date.fromisoformat(str(found))


def learner_summary(conn: sa.Connection, learner: str, date_from: date | str | None = None,
                    date_to: date | str | None = None,
                    course: str | None = None) -> dict[str, Any]:
    """A learner's days (in the platform's time zone) from `date_from` to `date_to` (inclusive,
    YYYY-MM-DD, both optional), optionally for one course.

    Returns {learner: {email, name, actor_ids, first_seen, last_seen}, range: {from, to},
    course: id|None, totals: {... as list_learners, without runs/flags}, days: [{date,
    active_minutes, inactive_minutes, xp, completions, total_questions, correct_questions,
    accuracy, mastered_units, courses: [ids], goals_met: {course_id: {goal: bool|None}}}]}.
    A goal is met when the day's value for that course reaches it; accuracy goals are in percent
    and None on a day without questions. Only days with activity are listed."""
    start, end = check_range(date_from, date_to)
    email = resolve_learner(conn, learner)
    d = learner_days.c
    query = sa.select(learner_days).where(d.learner_email == email)
    if start is not None:
        query = query.where(d.local_date >= start)
    if end is not None:
        query = query.where(d.local_date <= end)
    if course is not None:
        query = query.where(d.course_id == course)
    info = course_info(conn)
    by_date: dict[str, dict[str, Any]] = {}
    for row in conn.execute(query.order_by(d.local_date, d.course_id)):
        values = {name: int(getattr(row, name)) for name in _SUMS}
        day = by_date.setdefault(row.local_date, {"sums": dict.fromkeys(_SUMS, 0),
                                                  "courses": [], "goals_met": {}})
        for name in _SUMS:
            day["sums"][name] += values[name]
        day["courses"].append(row.course_id)
        goals = info.get(row.course_id, {}).get("goals") or {}
        if goals:
            day["goals_met"][row.course_id] = _goals_met(goals, values)
    days = []
    total = dict.fromkeys(_SUMS, 0)
    for local_date, day in by_date.items():
        sums = day["sums"]
        for name in _SUMS:
            total[name] += sums[name]
        days.append({
            "date": local_date,
            **sum_figures(sums),
            "courses": day["courses"],
            "goals_met": day["goals_met"],
        })
    (person,) = _identity(conn, [email])
    return {"learner": person, "range": {"from": start, "to": end}, "course": course,
            "totals": _totals(total, len(days)), "days": days}
