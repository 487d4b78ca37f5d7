"""The adapter's request bodies as pydantic models: their shapes and bounds (bounds.py), each broken
rule reported as the protocol words it (`{"field": "elapsedMs", "message": "..."}`).

A heartbeat, the request every open lesson sends every few seconds, is read by `read_heartbeat`:
a plain body (every field of the type the model wants, no conversion to make) is taken as it is
after the same checks the model runs; anything else goes to the model, which decides and names
the field (tests/web/test_request_bodies.py holds both to the same answers).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, NamedTuple, TypeGuard, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from timeledger.caliper.bounds import MAX_WINDOW_MS, run_key_problem
from timeledger.caliper.builders import normalize_run_id
from timeledger.caliper.errors import CaliperError
from timeledger.caliper.metrics import pct_complete_problem
from timeledger.caliper.times import TimeFormatError, parse_utc


def _moment(value: object) -> datetime:
    try:
        return parse_utc(value)
    except TimeFormatError:
        raise PydanticCustomError("moment", "Invalid datetime") from None


def _integral(value: object) -> object:
    """A whole float (what JSON may carry for an integer) as an int; anything else as it is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _run_id(value: object) -> object:
    if not isinstance(value, str):
        return value  # the str type says "Expected string"
    problem = run_key_problem(value)  # within a key's bounds, a UUID is too: no need to parse it
    if problem is not None:
        try:
            normalize_run_id(value, field="runId")
        except CaliperError:
            raise PydanticCustomError("run_key", problem) from None
    return value


def _pct_complete(value: object) -> object:
    problem = pct_complete_problem(value)
    if problem is not None:
        raise PydanticCustomError("pct_complete", problem)
    return value


Text = Annotated[str, StringConstraints(pattern=r"\S")]
Moment = Annotated[datetime, BeforeValidator(_moment)]
Milliseconds = Annotated[int, Field(ge=0, le=MAX_WINDOW_MS), BeforeValidator(_integral)]
RunId = Annotated[str, BeforeValidator(_run_id)]
PctComplete = Annotated[float | int | None, BeforeValidator(_pct_complete)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class CourseByCode(_Body):
    code: Text

    def selector(self) -> dict[str, Any]:
        """As `model_dump()` gives it, without pydantic's serializer (this runs per request)."""
        return {"code": self.code}


class CourseByGrade(_Body):
    subject: str
    grade: int

    def selector(self) -> dict[str, Any]:
        """As `model_dump()` gives it, without pydantic's serializer (this runs per request)."""
        return {"subject": self.subject, "grade": self.grade}


def _course_kind(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "grade"  # the model says "Expected object"
    if value.get("code") is not None:
        return "code"
    return "grade" if "subject" in value or "grade" in value else None


Course = Annotated[Annotated[CourseByCode, Tag("code")] | Annotated[CourseByGrade, Tag("grade")],
                   Discriminator(_course_kind)]


class _Activity(_Body):
    id: Text
    name: Text
    course: Course
    runId: RunId


class HeartbeatBody(_Activity):
    """`POST {base}/activity/heartbeat`."""

    startedAt: Moment
    endedAt: Moment
    elapsedMs: Milliseconds
    pausedMs: Milliseconds
    process: bool = True


class SubmitBody(_Activity):
    """`POST {base}/activity/submit` (its metrics are checked by the metric rules after this)."""

    endedAt: Moment
    metrics: dict[str, Any]
    pctComplete: PctComplete = None
    process: bool = True


_MESSAGES = {
    "missing": "Required",
    "string_type": "Expected string",
    "string_pattern_mismatch": "Expected non-empty string",
    "model_type": "Expected object",
    "dict_type": "Expected object",
    "model_attributes_type": "Expected object",
    "union_tag_not_found": 'Expected {"subject", "grade"} or {"code"}',
    "bool_type": "Expected boolean",
}
_MILLISECONDS = {"elapsedMs", "pausedMs"}


def _message(error: Any) -> str:
    kind = error["type"]
    if error["input"] is None and kind != "bool_type":
        return "Required"  # null is as good as absent
    field = str(error["loc"][0])
    if field in _MILLISECONDS:
        if kind == "less_than_equal":
            return f"Expected at most {MAX_WINDOW_MS} (one day)"
        return "Expected nonnegative integer"
    if kind == "int_type":
        return "Expected integer"
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    return str(error["msg"])  # a rule's own message (PydanticCustomError)


def _field(loc: tuple[int | str, ...]) -> str:
    """`("course", "grade", "grade")` → `course.grade`: the union's tag is not a field."""
    parts = [str(part) for part in loc]
    if len(parts) > 1 and parts[0] == "course" and parts[1] in ("code", "grade"):
        parts = parts[:1] + parts[2:]
    return ".".join(parts)


class BodyProblem(Exception):
    """The first broken rule of a body, in the order its fields are declared."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


BodyModel = TypeVar("BodyModel", bound="_Body")


def read_body(model: type[BodyModel], body: dict[str, Any]) -> BodyModel:
    """`body` as `model`, or the BodyProblem of its first broken rule."""
    try:
        return model.model_validate(body)
    except PydanticValidationError as exc:
        order = list(model.model_fields)
        first = min(exc.errors(), key=lambda e: order.index(str(e["loc"][0]))
                    if e["loc"] and str(e["loc"][0]) in order else len(order))
        raise BodyProblem(_field(first["loc"]), _message(first)) from None


class Heartbeat(NamedTuple):
    """A checked heartbeat body, as the protocol reads it."""

    id: str
    name: str
    course: dict[str, Any]
    """The course selector, as `model_dump()` of the body's course gives it."""
    run_id: str
    started_at: datetime
    ended_at: datetime
    elapsed_ms: int
    paused_ms: int
    process: bool


def read_heartbeat(body: dict[str, Any]) -> Heartbeat:
    """A heartbeat body, or the BodyProblem of its first broken rule (as `HeartbeatBody`)."""
    beat = _plain_heartbeat(body)
    if beat is not None:
        return beat
    model = read_body(HeartbeatBody, body)
    return Heartbeat(model.id, model.name, model.course.selector(), model.runId,
                     model.startedAt, model.endedAt, model.elapsedMs, model.pausedMs,
                     model.process)


def _plain_text(value: object) -> TypeGuard[str]:
    """A str the `Text` pattern matches for certain: its first character is printable ASCII
    other than a space (other strings go to the model)."""
    return type(value) is str and "!" <= value[:1] <= "~"


def _plain_ms(value: object) -> TypeGuard[int]:
    return type(value) is int and 0 <= value <= MAX_WINDOW_MS


def _plain_heartbeat(body: dict[str, Any]) -> Heartbeat | None:
    """The body when every field is plainly what `HeartbeatBody` accepts as it is, else None
    (then the model decides): the rules are the model's own functions (`run_key_problem`,
    `parse_utc`), with nothing converted (a whole float, a UUID outside a key's bounds, an
    unusual string go to the model)."""
    if type(body) is not dict:
        return None
    get = body.get
    slug, name, course, run_id = get("id"), get("name"), get("course"), get("runId")
    started, ended = get("startedAt"), get("endedAt")
    elapsed, paused, process = get("elapsedMs"), get("pausedMs"), get("process", True)
    if not (_plain_text(slug) and _plain_text(name) and type(course) is dict
            and type(run_id) is str and type(started) is str and type(ended) is str
            and _plain_ms(elapsed) and _plain_ms(paused) and type(process) is bool):
        return None
    code = course.get("code")
    if code is not None:
        if not _plain_text(code):
            return None
        selector: dict[str, Any] = {"code": code}
    else:
        subject, grade = course.get("subject"), course.get("grade")
        if type(subject) is not str or type(grade) is not int:
            return None
        selector = {"subject": subject, "grade": grade}
    if run_key_problem(run_id) is not None:
        return None
    try:
        started_at, ended_at = parse_utc(started), parse_utc(ended)
    except TimeFormatError:
        return None
    return Heartbeat(slug, name, selector, run_id, started_at, ended_at, elapsed, paused,
                     process)
