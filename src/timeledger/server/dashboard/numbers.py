"""How the dashboard writes numbers, durations and times: one format per unit, with units."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def count(value: float | None) -> str:
    """`1,234`; a missing value is a dash."""
    if value is None:
        return "–"
    return f"{round(value):,}"


def decimal(value: float | None, places: int = 1) -> str:
    """`1,234.5`, dropping a trailing `.0` so whole numbers read as whole."""
    if value is None:
        return "–"
    text = f"{value:,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def minutes(value: float | None) -> str:
    return "–" if value is None else f"{decimal(value)} min"


def xp(value: float | None) -> str:
    return "–" if value is None else f"{decimal(value)} XP"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{decimal(value)} %"


def moment(value: datetime | str | None, timezone: str = "UTC") -> str:
    """`Mon 17 Nov 2025, 09:30:05` in the platform's time zone."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    local = value.astimezone(ZoneInfo(timezone))
    return local.strftime("%a %d %b %Y, %H:%M:%S")


def clock(value: datetime | str | None, timezone: str = "UTC") -> str:
    """`09:30:05` in the platform's time zone."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(ZoneInfo(timezone)).strftime("%H:%M:%S")


def _plural(value: float, one: str, many: str) -> str:
    return f"{decimal(value)} {one if value == 1 else many}"


def goal(name: str, value: float) -> str:
    """A course's daily goal in words: `25 XP`, `2 lessons`, `80 % accuracy`."""
    if name == "dailyXp":
        return xp(value)
    if name == "dailyActiveMinutes":
        return minutes(value)
    if name == "dailyLessons":
        return _plural(value, "lesson", "lessons")
    if name == "dailyAccuracy":
        return f"{percent(value)} accuracy"
    if name == "dailyMasteredUnits":
        return _plural(value, "mastered unit", "mastered units")
    return f"{decimal(value)} {name}"


FILTERS = {
    "count": count, "decimal": decimal, "minutes": minutes,
    "xp": xp, "percent": percent,
}
GLOBALS = {"goal": goal}
