"""Checks on what an app passes in, raising ValidationError (snake_case fields) before queueing."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from timeledger.caliper.bounds import MAX_WINDOW_MS, report_problem, year_problem
from timeledger.caliper.builders import Learner, RunRef, run_ref
from timeledger.caliper.errors import CaliperError
from timeledger.caliper.metrics import METRIC_NAMES, Metrics, metrics_from_mapping
from timeledger.caliper.times import TimeFormatError, parse_utc
from timeledger.sdk.errors import ValidationError

M = TypeVar("M", bound="_Input")


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


class _Input(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    unknown_key: ClassVar[str] = "Unknown key"


def _moment(value: object) -> datetime:
    """An aware datetime, or text as the wire writes times (times.py), in bounds.py's years."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise PydanticCustomError("moment", "Expected a timezone-aware datetime")
        problem = year_problem(value.astimezone(UTC))
        if problem is not None:
            raise PydanticCustomError("moment", problem)
        return value
    try:
        return parse_utc(value)
    except TimeFormatError as exc:
        raise PydanticCustomError("moment", str(exc)) from None


_MS_MESSAGE = "Expected a non-negative number of milliseconds"
Milliseconds = Annotated[float, Field(ge=0, le=MAX_WINDOW_MS, allow_inf_nan=False)]
Moment = Annotated[datetime, BeforeValidator(_moment)]
Text = Annotated[str, StringConstraints(pattern=r"\S")]
_TEXT = TypeAdapter(Text, config=ConfigDict(strict=True))


class TimeOverride(_Input):
    """`end(..., time={"active": ms, "inactive": ms})`."""

    unknown_key: ClassVar[str] = 'Unknown key; expected "active" and "inactive"'

    active: Milliseconds
    inactive: Milliseconds = 0.0


class RecordedTime(_Input):
    """`record(time=...)`: one window of time reported by the backend."""

    unknown_key: ClassVar[str] = ("Unknown key; expected started_at, ended_at, active_ms,"
                                  " inactive_ms")

    started_at: Moment
    ended_at: Moment
    active_ms: Milliseconds
    inactive_ms: Milliseconds = 0.0


class ActivityInput(_Input):
    """`record(activity={"id", "name", "course"})`; the course selector is the catalog's to read."""

    model_config = ConfigDict(extra="ignore")

    id: Text
    name: Text
    course: dict[str, Any]


def _message(error: Any, model: type[_Input], required: str) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return model.unknown_key
    if kind == "missing":
        return required
    annotation = model.model_fields[str(error["loc"][0])].annotation
    if annotation is float:  # Milliseconds
        return (f"Expected at most {MAX_WINDOW_MS} ms (one day)" if kind == "less_than_equal"
                else _MS_MESSAGE)
    if kind in ("string_type", "string_pattern_mismatch"):
        return "Expected a non-empty string"
    if kind == "dict_type":
        return 'Expected {"subject", "grade"} or {"code"}'
    return str(error["msg"])  # a rule's own message (PydanticCustomError)


def _first(error: Any, order: list[str]) -> tuple[int, int]:
    """Unknown keys first, then absent ones, then the rest, each in field order."""
    rank = {"extra_forbidden": 0, "missing": 1}.get(error["type"], 2)
    name = str(error["loc"][0]) if error["loc"] else ""
    return rank, order.index(name) if name in order else len(order)


def _read(model: type[M], value: object, field: str, shape: str, required: str = "Required") -> M:
    """`value` as `model`, or a ValidationError naming `field.<key>` and what was expected."""
    if not isinstance(value, Mapping):
        raise ValidationError(field, shape)
    try:
        return model.model_validate(dict(value))
    except PydanticValidationError as exc:
        error = min(exc.errors(), key=lambda e: _first(e, list(model.model_fields)))
        raise ValidationError(f"{field}.{error['loc'][0]}", _message(error, model, required)) \
            from None


def check_text(value: object, field: str) -> str:
    try:
        return _TEXT.validate_python(value)
    except PydanticValidationError:
        raise ValidationError(field, "Expected a non-empty string") from None


def check_time_override(time: object) -> tuple[float, float]:
    """`end(..., time={"active": ms, "inactive": ms})` → (active_ms, inactive_ms)."""
    override = _read(TimeOverride, time, "time", 'Expected {"active": ms, "inactive": ms}',
                     "Required: active milliseconds")
    amounts = (override.active, override.inactive)
    _check_report(None, amounts, ("time.active", "time.inactive"), "time")
    return amounts


def _check_report(window: tuple[datetime, datetime] | None, amounts: tuple[float, float],
                  fields: tuple[str, str], window_field: str) -> None:
    """The bounds of one time report (bounds.py): a window of at most a day, holding no more."""
    found = report_problem(window, amounts)
    if found is not None:
        message, index = found
        raise ValidationError(window_field if index is None else fields[index], message)


def check_record_time(time: object) -> RecordedTime:
    recorded = _read(RecordedTime, time, "time",
                     'Expected {"started_at", "ended_at", "active_ms", "inactive_ms"}')
    if recorded.ended_at < recorded.started_at:
        raise ValidationError("time.ended_at", "Expected a time at or after time.started_at")
    _check_report((recorded.started_at, recorded.ended_at),
                  (recorded.active_ms, recorded.inactive_ms),
                  ("time.active_ms", "time.inactive_ms"), "time.ended_at")
    return recorded


def check_activity(activity: object) -> tuple[str, str, Mapping[str, Any]]:
    """`record(activity={"id", "name", "course"})` → (id, name, course selector)."""
    checked = _read(ActivityInput, activity, "activity", 'Expected {"id", "name", "course"}')
    return checked.id, checked.name, checked.course
