"""The completion metric rules, written once and used by the SDK, the adapter and the platform."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from timeledger.caliper.bounds import MAX_PCT, count_problem, pct_problem, xp_problem
from timeledger.caliper.errors import CaliperError, Problem

Naming = Literal["camel", "snake"]

# Wire (camelCase) name -> Python (snake_case) name.
METRIC_NAMES: dict[str, str] = {
    "xpEarned": "xp_earned",
    "totalQuestions": "total_questions",
    "correctQuestions": "correct_questions",
    "masteredUnits": "mastered_units",
    "pctComplete": "pct_complete",
}
_SNAKE_TO_CAMEL = {snake: camel for camel, snake in METRIC_NAMES.items()}
COUNT_METRICS = ("totalQuestions", "correctQuestions", "masteredUnits")


@dataclass(frozen=True, slots=True)
class Metrics:
    """What one completion reports. `xp_earned` may be negative (a correction)."""

    xp_earned: float
    total_questions: int | None = None
    correct_questions: int | None = None
    mastered_units: int | None = None
    pct_complete: float | None = None

    def to_wire(self) -> dict[str, float | int]:
        """The adapter's `metrics` object (camelCase), omitting what was not given."""
        out: dict[str, float | int] = {"xpEarned": self.xp_earned}
        if self.total_questions is not None:
            out["totalQuestions"] = self.total_questions
        if self.correct_questions is not None:
            out["correctQuestions"] = self.correct_questions
        if self.mastered_units is not None:
            out["masteredUnits"] = self.mastered_units
        return out


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _is_count(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, float) and value.is_integer() and value >= 0


def metric_problems(values: Mapping[str, object], prefix: str = "metrics", naming: Naming = "camel",
                    require_xp: bool = True) -> list[Problem]:
    """Check metric values keyed by wire (camelCase) names; problems name the field in `naming`."""

    def field(camel: str) -> str:
        name = camel if naming == "camel" else METRIC_NAMES[camel]
        return f"{prefix}.{name}" if prefix else name

    problems: list[Problem] = []
    xp = values.get("xpEarned")
    if xp is None:
        if require_xp:
            problems.append(Problem(field("xpEarned"), "xpEarned is required."))
    elif not _is_number(xp):
        problems.append(Problem(field("xpEarned"), "Expected a number."))
    elif (message := xp_problem(xp)) is not None:  # type: ignore[arg-type]
        problems.append(Problem(field("xpEarned"), f"xpEarned {message}"))
    for name in COUNT_METRICS:
        value = values.get(name)
        if value is not None and not _is_count(value):
            problems.append(Problem(field(name), f"{name} must be a non-negative integer."))
        elif value is not None and (message := count_problem(value)) is not None:  # type: ignore[arg-type]
            problems.append(Problem(field(name), f"{name} {message}"))
    total, correct = values.get("totalQuestions"), values.get("correctQuestions")
    if (total is None) != (correct is None):
        problems.append(
            Problem(prefix, "totalQuestions and correctQuestions must be provided together.")
        )
    elif _is_count(total) and _is_count(correct) and correct > total:  # type: ignore[operator]
        problems.append(
            Problem(field("correctQuestions"), "correctQuestions cannot exceed totalQuestions.")
        )
    pct = values.get("pctComplete")
    message = pct_complete_problem(pct)
    if message is not None:
        problems.append(Problem(field("pctComplete"), message))
    return problems


def pct_complete_problem(value: object) -> str | None:
    """Why a `pctComplete` is refused (not a number, or outside 0..100), or None when it fits."""
    if value is None:
        return None
    if not _is_number(value):
        return f"pctComplete must be a number from 0 to {MAX_PCT}."
    message = pct_problem(value)  # type: ignore[arg-type]
    return None if message is None else f"pctComplete {message}"


def to_camel_keys(values: Mapping[str, object]) -> dict[str, object]:
    """Accept snake_case or camelCase metric keys; unknown keys are kept as given."""
    return {_SNAKE_TO_CAMEL.get(key, key): value for key, value in values.items()}


def metrics_from_mapping(values: Mapping[str, object] | Metrics, naming: Naming = "camel",
                         prefix: str = "metrics") -> Metrics:
    """Validate and build `Metrics`; raises CaliperError naming the first bad field."""
    if isinstance(values, Metrics):
        values = {
            "xpEarned": values.xp_earned, "totalQuestions": values.total_questions,
            "correctQuestions": values.correct_questions, "masteredUnits": values.mastered_units,
            "pctComplete": values.pct_complete,
        }
        values = {k: v for k, v in values.items() if v is not None}
    camel = to_camel_keys(values)
    unknown = [key for key in camel if key not in METRIC_NAMES]
    problems = [Problem(f"{prefix}.{key}", f"Unknown metric {key!r}; expected one of: "
                        + ", ".join(METRIC_NAMES if naming == "camel" else METRIC_NAMES.values()))
                for key in unknown]
    problems += metric_problems(camel, prefix=prefix, naming=naming)
    if problems:
        raise CaliperError(problems)

    def count(name: str) -> int | None:
        value = camel.get(name)
        return None if value is None else int(value)  # type: ignore[call-overload]

    pct = camel.get("pctComplete")
    return Metrics(
        xp_earned=camel["xpEarned"],  # type: ignore[arg-type]
        total_questions=count("totalQuestions"),
        correct_questions=count("correctQuestions"),
        mastered_units=count("masteredUnits"),
        pct_complete=pct,  # type: ignore[arg-type]  # kept as given: 40 stays 40 on the wire
    )
