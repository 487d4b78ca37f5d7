"""Stored integers (ms, milli-XP, counts) as the API shows them: minutes, XP, accuracy, progress."""

from __future__ import annotations

import math
from datetime import datetime
from fractions import Fraction
from typing import Any

from timeledger.caliper.times import format_utc
from timeledger.server.pipeline.gradebook import SCORE_SCALE


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


def mean_score(score_micro_sum: int, count: int) -> float | None:
    """The mean of `count` scores summed in millionths of a percent (pipeline.gradebook
    .score_micro), to one decimal, halves rounded up; None without scores. Exact, so a mean read
    from a running sum equals one taken over the results themselves."""
    if not count:
        return None
    tenths = Fraction(score_micro_sum * 10, count * SCORE_SCALE)
    return math.floor(tenths + Fraction(1, 2)) / 10


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else format_utc(moment)


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
