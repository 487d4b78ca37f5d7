"""Checks on what an app passes in, raising ValidationError (snake_case fields) before queueing."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from timeledger.caliper.bounds import MAX_WINDOW_MS, report_problem, year_problem
from timeledger.caliper.builders import Learner, RunRef, run_ref
from timeledger.caliper.errors import CaliperError
from timeledger.caliper.metrics import METRIC_NAMES, Metrics, metrics_from_mapping
from timeledger.caliper.times import TimeFormatError, parse_utc
from timeledger.sdk.errors import ValidationError


def _snake_message(message: str) -> str:
    for camel, snake in METRIC_NAMES.items():
        message = message.replace(camel, snake)
    return message


def check_metrics(metrics: object) -> Metrics:
    """Metrics as a dict (snake_case or camelCase keys) or `Metrics`, by the one set of rules."""
    if not isinstance(metrics, Mapping | Metrics):
        raise ValidationError("metrics", "Expected a dict of metrics or timeledger.Metrics")
    try:
        return metrics_from_mapping(metrics, naming="snake")
    except CaliperError as exc:
        problem = exc.problems[0]
        raise ValidationError(problem.path, _snake_message(problem.message)) from None


def check_run_id(run_id: object, sensor: str) -> RunRef:
    """Any runId: a UUID (bare or `urn:uuid:`) as is, lower-case; any other string of the app's
    own (bounds.py) as uuid5 under the sensor's namespace, keeping the string as the run key."""
    if not isinstance(run_id, str | uuid.UUID):
        raise ValidationError("run_id", "Expected a UUID or a string (the app's own run id)")
    try:
        return run_ref(run_id, sensor, field="run_id")
    except CaliperError as exc:
        raise ValidationError("run_id", exc.problems[0].message) from None


def check_user(user: object) -> Learner:
    try:
        return Learner.from_mapping(user, field="user")  # type: ignore[arg-type]
    except CaliperError as exc:
        raise ValidationError.from_caliper(exc) from None


def check_text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "Expected a non-empty string")
    return value


def _milliseconds(value: object, field: str) -> float:
    if (not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value)
            or value < 0):
        raise ValidationError(field, "Expected a non-negative number of milliseconds")
    if value > MAX_WINDOW_MS:
        raise ValidationError(field, f"Expected at most {MAX_WINDOW_MS} ms (one day)")
    return float(value)


def check_time_override(time: object) -> tuple[float, float]:
    """`end(..., time={"active": ms, "inactive": ms})` → (active_ms, inactive_ms)."""
    if not isinstance(time, Mapping):
        raise ValidationError("time", 'Expected {"active": ms, "inactive": ms}')
    for key in time:
        if key not in ("active", "inactive"):
            raise ValidationError(f"time.{key}", 'Unknown key; expected "active" and "inactive"')
    if "active" not in time:
        raise ValidationError("time.active", "Required: active milliseconds")
    amounts = (_milliseconds(time["active"], "time.active"),
               _milliseconds(time.get("inactive", 0), "time.inactive"))
    _check_report(None, amounts, ("time.active", "time.inactive"), "time")
    return amounts


def _check_report(window: tuple[datetime, datetime] | None, amounts: tuple[float, float],
                  fields: tuple[str, str], window_field: str) -> None:
    """The bounds of one time report (bounds.py): a window of at most a day, holding no more."""
    found = report_problem(window, amounts)
    if found is not None:
        message, index = found
        raise ValidationError(window_field if index is None else fields[index], message)


def _moment(value: object, field: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationError(field, "Expected a timezone-aware datetime")
        problem = year_problem(value.astimezone(UTC))
        if problem is not None:
            raise ValidationError(field, problem)
        return value
    try:
        return parse_utc(value)
    except TimeFormatError as exc:
        raise ValidationError(field, str(exc)) from None


@dataclass(frozen=True, slots=True)
class RecordedTime:
    """`record(time=...)`: one window of time reported by the backend."""

    started_at: datetime
    ended_at: datetime
    active_ms: float
    inactive_ms: float


def check_record_time(time: object) -> RecordedTime:
    if not isinstance(time, Mapping):
        raise ValidationError(
            "time", 'Expected {"started_at", "ended_at", "active_ms", "inactive_ms"}')
    known = ("started_at", "ended_at", "active_ms", "inactive_ms")
    for key in time:
        if key not in known:
            raise ValidationError(f"time.{key}", "Unknown key; expected " + ", ".join(known))
    for key in ("started_at", "ended_at", "active_ms"):
        if key not in time:
            raise ValidationError(f"time.{key}", "Required")
    started = _moment(time["started_at"], "time.started_at")
    ended = _moment(time["ended_at"], "time.ended_at")
    if ended < started:
        raise ValidationError("time.ended_at", "Expected a time at or after time.started_at")
    active = _milliseconds(time["active_ms"], "time.active_ms")
    inactive = _milliseconds(time.get("inactive_ms", 0), "time.inactive_ms")
    _check_report((started, ended), (active, inactive), ("time.active_ms", "time.inactive_ms"),
                  "time.ended_at")
    return RecordedTime(started, ended, active, inactive)


def check_activity(activity: object) -> tuple[str, str, Mapping[str, Any]]:
    """`record(activity={"id", "name", "course"})` → (id, name, course selector)."""
    if not isinstance(activity, Mapping):
        raise ValidationError("activity", 'Expected {"id", "name", "course"}')
    course = activity.get("course")
    if not isinstance(course, Mapping):
        raise ValidationError("activity.course", 'Expected {"subject", "grade"} or {"code"}')
    return (check_text(activity.get("id"), "activity.id"),
            check_text(activity.get("name"), "activity.name"), course)
