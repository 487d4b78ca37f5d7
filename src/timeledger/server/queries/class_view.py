"""The class view: one row per learner with today's and a date range's active minutes and XP
against their courses' daily goals, accuracy, last active and learning concerns.

(`class` is a Python keyword, hence `class_view`.) Reads are bounded by the learners shown and the
days asked for, never by history: learner-course totals say who takes which course, learner days
give the figures, learner totals the recent accuracies. `learners` narrows the rows to a set of
emails (a roster class, for example).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from timeledger.server.queries import concerns
from timeledger.server.queries.course_catalog import course_info
from timeledger.server.queries.date_parameters import check_range
from timeledger.server.queries.errors import InvalidParameter, NotFound
from timeledger.server.queries.figures import accuracy, iso, minutes, xp
from timeledger.server.queries.flags import reviews_of
from timeledger.server.queries.page_cursor import decode_key, encode_key
from timeledger.server.store.projection_tables import (
    learner_course_totals,
    learner_days,
    learner_totals,
    learners,
)

Status = Literal["met", "close", "missed"]
MAX_RANGE_DAYS = 366
MAX_CLASS_PAGE = 1000  # the most learners one page of GET /api/v1/class lists
CLOSE_SHARE = 0.75  # at least this share of a goal is "close"
_ACCURACY_COLUMNS = tuple(learner_totals.c[name] for name in (
    "accuracy_1", "accuracy_2", "accuracy_3", "accuracy_4", "accuracy_5"))


def status_of(value: float, goal: float | None) -> Status | None:
    if not goal:
        return None
    if value >= goal:
        return "met"
    return "close" if value >= goal * CLOSE_SHARE else "missed"


def week_start(today: date) -> date:
    return today - timedelta(days=today.weekday())


def _check_dates(today: date, date_from: date | str | None,
                 date_to: date | str | None) -> tuple[date, date]:
    start_text, end_text = check_range(date_from, date_to)
    start = date.fromisoformat(start_text) if start_text else week_start(today)
    end = date.fromisoformat(end_text) if end_text else max(today, start)
    if start > end:
        raise InvalidParameter("from", f"from ({start}) is after to ({end})")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidParameter("to", f"A range holds at most {MAX_RANGE_DAYS} days; "
                               f"{start} to {end} holds {(end - start).days + 1}")
    return start, end


def _period(days: list[date], figures: dict[str, list[int]], goal_days: int,
            minutes_goal: float | None, xp_goal: float | None) -> dict[str, Any]:
    sums = [0, 0]
    for day in days:
        found = figures.get(day.isoformat())
        if found is not None:
            sums[0] += found[0]
            sums[1] += found[1]
    minutes_target = minutes_goal * goal_days if minutes_goal and goal_days else None
    xp_target = xp_goal * goal_days if xp_goal and goal_days else None
    active = minutes(sums[0])
    earned = xp(sums[1])
    return {
        "active_minutes": active, "xp": earned,
        "active_minutes_goal": minutes_target, "xp_goal": xp_target,
        "active_minutes_status": status_of(active, minutes_target),
        "xp_status": status_of(earned, xp_target),
    }


def class_view(conn: sa.Connection, today: date, timezone: str,
               date_from: date | str | None = None, date_to: date | str | None = None,
               course: str | None = None,
               learner_emails: Collection[str] | None = None, limit: int | None = None,
               after: str | None = None) -> dict[str, Any]:
    """{today, range: {from, to}, course, school_days, learners: [{email, name, courses,
    today: Period, range: Period, accuracy, last_active, concerns: [{kind, key, since, days,
    accuracies, review}], needs_attention}], next}, learners ordered by email.

    With a `limit`, a page of at most that many learners after the cursor `after` (the `next`
    of the previous page; None on the last page), read by key.

    The range defaults to this week (Monday to today). A Period is {active_minutes, xp,
    active_minutes_goal, xp_goal, active_minutes_status, xp_status}: goals are the learner's
    courses' daily goals (dailyActiveMinutes, dailyXp) times the school days (Monday to Friday)
    of the period up to today; a status is met (reached), close (at least 75 %) or missed, and
    None without a goal. `accuracy` is over the range's questions. A learner is listed when they
    have activity in the course (any course without one), ever."""
    start, end = _check_dates(today, date_from, date_to)
    info = course_info(conn)
    if course is not None and course not in info:
        raise NotFound(f"No course {course!r}")
    t = learner_course_totals.c
    scope = sa.select(t.learner_email, t.course_id)
    if course is not None:
        scope = scope.where(t.course_id == course)
    if learner_emails is not None:
        scope = scope.where(t.learner_email.in_(sorted(learner_emails)))
    next_cursor = None
    if limit is not None:
        who = scope.with_only_columns(t.learner_email).distinct()
        if after is not None:
            (last_email,) = decode_key("after", after, "class", (str,))
            who = who.where(t.learner_email > last_email)
        page = list(conn.execute(who.order_by(t.learner_email).limit(limit + 1)).scalars())
        if len(page) > limit:
            page = page[:limit]
            next_cursor = encode_key("class", [page[-1]])
        scope = scope.where(t.learner_email.in_(page))
    taken: dict[str, list[str]] = defaultdict(list)
    for pair in conn.execute(scope.order_by(t.learner_email, t.course_id)):
        taken[pair.learner_email].append(pair.course_id)
    lookback = concerns.school_days_before(today, concerns.LOOKBACK_SCHOOL_DAYS)
    first = min(start, lookback[0], today)
    last = max(end, today)
    # per learner, per day (YYYY-MM-DD): [active_ms, xp_milli, total_questions, correct]
    figures: dict[str, dict[str, list[int]]] = defaultdict(dict)
    if taken:
        d = learner_days.c
        days_query = (sa.select(d.learner_email, d.local_date, d.active_ms, d.xp_milli,
                                d.total_questions, d.correct_questions)
                      .where(d.local_date >= first.isoformat(), d.local_date <= last.isoformat()))
        if course is not None:
            days_query = days_query.where(d.course_id == course)
        if learner_emails is not None or limit is not None:
            days_query = days_query.where(d.learner_email.in_(sorted(taken)))
        for email, local_date, active_ms, xp_milli, total, correct in conn.execute(days_query):
            if email not in taken:
                continue
            day = figures[email].get(local_date)
            if day is None:
                figures[email][local_date] = [active_ms, xp_milli, total, correct]
            else:
                day[0] += active_ms
                day[1] += xp_milli
                day[2] += total
                day[3] += correct
    emails = sorted(taken)
    people = {row.email: row for row in conn.execute(
        sa.select(learners.c.email, learners.c.name, learners.c.first_seen, learners.c.last_seen)
        .where(learners.c.email.in_(emails)))} if emails else {}
    recent = {row.learner_email: row for row in conn.execute(
        sa.select(learner_totals.c.learner_email, learner_totals.c.accuracy_event_id,
                  *_ACCURACY_COLUMNS).where(learner_totals.c.learner_email.in_(emails)))
              } if emails else {}
    zone = ZoneInfo(timezone)
    range_days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    range_dates = [day.isoformat() for day in range_days]
    range_goal_days = len([d for d in range_days if d <= today and concerns.is_school_day(d)])
    today_goal_days = 1 if concerns.is_school_day(today) else 0
    rows: list[dict[str, Any]] = []
    for email in emails:
        person = people.get(email)
        goals = [info[cid].get("goals") or {} for cid in taken[email] if cid in info]
        minutes_goal = sum(float(g.get("dailyActiveMinutes", 0)) for g in goals) or None
        xp_goal = sum(float(g.get("dailyXp", 0)) for g in goals) or None
        mine = figures.get(email, {})
        in_range = [mine[day] for day in range_dates if day in mine]
        last_seen: datetime | None = person.last_seen if person else None
        last_active = last_seen.astimezone(zone).date() if last_seen else None
        first_day = person.first_seen.astimezone(zone).date() if person else today
        totals = recent.get(email)
        raised = [
            concerns.behind_goal(
                email, {day: concerns.DayFigures(f[0], f[1]) for day, f in mine.items()},
                lookback, first_day, minutes_goal, xp_goal),
            concerns.inactive(email, last_active, today),
            concerns.accuracy_falling(
                email, [getattr(totals, c.name) for c in _ACCURACY_COLUMNS] if totals else [],
                totals.accuracy_event_id if totals else None),
        ]
        rows.append({
            "email": email, "name": person.name if person else None, "courses": taken[email],
            "today": _period([today], mine, today_goal_days, minutes_goal, xp_goal),
            "range": _period(range_days, mine, range_goal_days, minutes_goal, xp_goal),
            "accuracy": accuracy(sum(f[2] for f in in_range), sum(f[3] for f in in_range)),
            "last_active": iso(last_seen),
            "concerns": [concern for concern in raised if concern is not None],
        })
    reviews = reviews_of(conn, [c["key"] for row in rows for c in row["concerns"]])
    for row in rows:
        for concern in row["concerns"]:
            concern["review"] = reviews[concern["key"]][-1] if concern["key"] in reviews else None
        row["needs_attention"] = any(c["review"] is None or c["review"]["status"] != "resolved"
                                     for c in row["concerns"])
    return {
        "today": today, "range": {"from": start, "to": end}, "course": course,
        "school_days": range_goal_days,
        "learners": rows, "next": next_cursor,
    }
