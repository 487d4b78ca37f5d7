"""Learning concerns, worked out when read for the learners on a page: behind goal for several
school days running, no activity for several school days, accuracy falling over the last five
completions. Each has a key that stays the same while the concern lasts, so a review of it holds
until a new episode begins (a new streak, a new last active day, a newer completion)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

BEHIND_GOAL = "behind_goal"
INACTIVE = "inactive"
ACCURACY_FALLING = "accuracy_falling"
CONCERN_KINDS = (BEHIND_GOAL, INACTIVE, ACCURACY_FALLING)

BEHIND_SCHOOL_DAYS = 3  # school days running below the daily goal
INACTIVE_SCHOOL_DAYS = 3  # school days with no activity at all
FALLING_POINTS = 10  # the newest of five accuracies at least this many points below the oldest
LOOKBACK_SCHOOL_DAYS = 10  # how far back a streak is followed (a longer one reads "10 or more")


def is_school_day(day: date) -> bool:
    """Monday to Friday (the platform has no school calendar)."""
    return day.weekday() < 5


def school_days(first: date, last: date) -> list[date]:
    """The school days from `first` to `last`, inclusive."""
    count = (last - first).days + 1
    return [day for day in (first + timedelta(days=n) for n in range(max(count, 0)))
            if is_school_day(day)]


def school_days_before(today: date, count: int) -> list[date]:
    """The `count` school days before `today`, oldest first."""
    out: list[date] = []
    day = today
    while len(out) < count:
        day -= timedelta(days=1)
        if is_school_day(day):
            out.append(day)
    return out[::-1]


@dataclass(frozen=True, slots=True)
class DayFigures:
    active_ms: int
    xp_milli: int


def met_goals(day: DayFigures | None, minutes_goal: float | None, xp_goal: float | None) -> bool:
    if day is None:
        return False
    if minutes_goal and day.active_ms < minutes_goal * 60_000:
        return False
    return not (xp_goal and day.xp_milli < xp_goal * 1000)


def behind_goal(email: str, days: Mapping[str, DayFigures], lookback: Sequence[date],
                first_day: date, minutes_goal: float | None,
                xp_goal: float | None) -> dict[str, Any] | None:
    """Missed the daily goals on each of the last BEHIND_SCHOOL_DAYS school days (or more)."""
    if not minutes_goal and not xp_goal:
        return None
    streak: list[date] = []
    for day in reversed(lookback):
        if day < first_day or met_goals(days.get(day.isoformat()), minutes_goal, xp_goal):
            break
        streak.append(day)
    if len(streak) < BEHIND_SCHOOL_DAYS:
        return None
    since = streak[-1]
    return {"kind": BEHIND_GOAL, "key": f"{BEHIND_GOAL}:{email}:{since.isoformat()}",
            "since": since, "days": len(streak), "accuracies": None}


def inactive(email: str, last_active: date | None, today: date) -> dict[str, Any] | None:
    """No activity on the last INACTIVE_SCHOOL_DAYS school days (or more) before today."""
    if last_active is None or last_active >= today:
        return None
    missed = len(school_days(last_active + timedelta(days=1), today - timedelta(days=1)))
    if missed < INACTIVE_SCHOOL_DAYS:
        return None
    return {"kind": INACTIVE, "key": f"{INACTIVE}:{email}:{last_active.isoformat()}",
            "since": last_active, "days": missed, "accuracies": None}


def accuracy_falling(email: str, newest_first: Sequence[int | None],
                     newest_event_id: str | None) -> dict[str, Any] | None:
    """The last five completions with questions never rose in accuracy, and the newest is at
    least FALLING_POINTS points below the oldest. Accuracies are per mille."""
    if len(newest_first) < 5 or any(value is None for value in newest_first):
        return None
    values = [int(value) for value in newest_first if value is not None][::-1]  # oldest first
    if any(later > earlier for earlier, later in itertools.pairwise(values)):
        return None
    if values[0] - values[-1] < FALLING_POINTS * 10:
        return None
    return {"kind": ACCURACY_FALLING, "key": f"{ACCURACY_FALLING}:{email}:{newest_event_id}",
            "since": None, "days": None, "accuracies": [value / 10 for value in values]}
