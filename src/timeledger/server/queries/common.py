"""What every query shares: its errors, units as the API shows them, and parameter checks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from timeledger.caliper.times import format_utc
from timeledger.server.store.projection_tables import course_registry, courses


class QueryError(Exception):
    """Base of the errors a query raises for its caller to show."""


class NotFound(QueryError):
    """The learner, run or course asked for is not known."""


class InvalidParameter(QueryError):
    """A parameter a caller passed is malformed; `name` says which."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def minutes(ms: int | None) -> float:
    return round((ms or 0) / 60000, 2)


def seconds(ms: int | None) -> float:
    return (ms or 0) / 1000


def xp(milli: int | None) -> int | float:
    """XP as stored (thousandths) back to a number: whole numbers as int."""
    value = milli or 0
    return value // 1000 if value % 1000 == 0 else value / 1000


def accuracy(total: int | None, correct: int | None) -> float | None:
    """Percent correct, one decimal; None when no questions were asked."""
    if not total:
        return None
    return round((correct or 0) * 100 / total, 1)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else format_utc(moment)


def check_date(name: str, value: date | str | None) -> str | None:
    """A day as learner days store it (YYYY-MM-DD), from a date or its text; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidParameter(name, f"Expected a date as YYYY-MM-DD, got {value!r}") from None
    if len(value) != 10:
        raise InvalidParameter(name, f"Expected a date as YYYY-MM-DD, got {value!r}")
    return parsed.isoformat()


def check_range(date_from: date | str | None,
                date_to: date | str | None) -> tuple[str | None, str | None]:
    start, end = check_date("from", date_from), check_date("to", date_to)
    if start is not None and end is not None and start > end:
        raise InvalidParameter("from", f"from ({start}) is after to ({end})")
    return start, end


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


def progress_of(pct_complete: float | None, mastered_units: int,
                total_lessons: int | None) -> tuple[float | None, str | None]:
    """Course progress in percent: pctCompleteApp when the app reports it, else mastered units
    over the course's totalLessons (capped at 100); with neither, None."""
    if pct_complete is not None:
        return round(pct_complete, 1), "pctCompleteApp"
    if total_lessons:
        return round(min(100.0, mastered_units * 100 / total_lessons), 1), "masteredUnits"
    return None, None


def sum_figures(sums: dict[str, int]) -> dict[str, Any]:
    """Learner-day sums (ms, milli-XP, counts) in the API's units: a day, a range, a course."""
    return {
        "active_minutes": minutes(sums["active_ms"]),
        "inactive_minutes": minutes(sums["inactive_ms"]),
        "xp": xp(sums["xp_milli"]),
        "completions": sums["completions"],
        "total_questions": sums["total_questions"],
        "correct_questions": sums["correct_questions"],
        "accuracy": accuracy(sums["total_questions"], sums["correct_questions"]),
        "mastered_units": sums["mastered_units"],
    }
