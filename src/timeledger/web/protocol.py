"""The adapter protocol, framework-free: (learner, request body) in, (status, reply, events) out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, Protocol

import orjson

from timeledger.caliper.bounds import MAX_WINDOW_MS, report_problem
from timeledger.caliper.builders import (
    ActivityRef,
    RunRef,
    completed_event,
    run_ref,
    stable_event_id,
    time_spent_event,
)
from timeledger.caliper.errors import CaliperError
from timeledger.caliper.metrics import metrics_from_mapping, pct_complete_problem
from timeledger.caliper.times import TimeFormatError, format_utc, parse_utc
from timeledger.config import AmbiguousCourse, UnknownCourse
from timeledger.sdk.errors import ConfigurationError, ValidationError

Route = Literal["heartbeat", "submit"]
ROUTES: tuple[Route, ...] = ("heartbeat", "submit")
DEFAULT_MAX_BODY_BYTES = 64 * 1024


class Catalog(Protocol):
    """What the protocol asks of the SDK client: the activity and the actor events name."""

    def activity_ref(self, id: str, name: str, course: Mapping[str, Any]) -> ActivityRef: ...

    def actor(self, user: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """What the browser is answered: a status and a JSON body (none for 204)."""

    status: int
    body: dict[str, Any] | None = None

    def content(self) -> bytes:
        return b"" if self.body is None else orjson.dumps(self.body)


NO_CONTENT = Reply(204)
DUPLICATE = Reply(200, {"duplicate": True})


def error_reply(status: int, code: str, message: str, field_name: str | None = None,
                field_message: str | None = None) -> Reply:
    """`{"error": {"code", "message", "details"?: {"field", "message"}}}`."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field_name is not None:
        error["details"] = {"field": field_name, "message": field_message or message}
    return Reply(status, {"error": error})


UNAUTHORIZED = error_reply(401, "UNAUTHORIZED", "Sign in first: no learner for this request")
CROSS_SITE = error_reply(403, "FORBIDDEN", "Cross-site requests are refused")


@dataclass(frozen=True, slots=True)
class Outcome:
    """The protocol's verdict: the reply, the events to queue, and the reply for a resend."""

    reply: Reply
    events: tuple[dict[str, Any], ...] = ()
    if_already_queued: Reply | None = None


class _Invalid(Exception):
    """A request the protocol refuses, carrying the reply that says why."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _invalid(field_name: str, message: str) -> _Invalid:
    return _Invalid(error_reply(400, "INVALID_PAYLOAD", f"Invalid {field_name}: {message}",
                                field_name, message))


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        raise _invalid(name, "Required")
    if not isinstance(value, str):
        raise _invalid(name, "Expected string")
    if not value.strip():
        raise _invalid(name, "Expected non-empty string")
    return value


def _course(body: Mapping[str, Any]) -> Mapping[str, Any]:
    course = body.get("course")
    if course is None:
        raise _invalid("course", "Required")
    if not isinstance(course, dict):
        raise _invalid("course", "Expected object")
    if "code" in course and course["code"] is not None:
        if not isinstance(course["code"], str) or not course["code"].strip():
            raise _invalid("course.code", "Expected non-empty string")
        return {"code": course["code"]}
    if "subject" not in course and "grade" not in course:
        raise _invalid("course", 'Expected {"subject", "grade"} or {"code"}')
    subject, grade = course.get("subject"), course.get("grade")
    if subject is None:
        raise _invalid("course.subject", "Required")
    if not isinstance(subject, str):
        raise _invalid("course.subject", "Expected string")
    if grade is None:
        raise _invalid("course.grade", "Required")
    if not isinstance(grade, int) or isinstance(grade, bool):
        raise _invalid("course.grade", "Expected integer")
    return {"subject": subject, "grade": grade}


def _run_id(body: Mapping[str, Any]) -> str:
    """The runId as sent: a UUID or the app's own string (bounds.py); mapped to the run's UUID
    under the activity's sensor once that is known (`_run`)."""
    value = body.get("runId")
    if value is None:
        raise _invalid("runId", "Required")
    if not isinstance(value, str):
        raise _invalid("runId", "Expected string")
    try:
        run_ref(value, "", field="runId")
    except CaliperError as exc:
        raise _invalid("runId", exc.problems[0].message) from None
    return value


def _run(run_id: str, activity: ActivityRef) -> RunRef:
    return run_ref(run_id, activity.run_sensor(), field="runId")


def _moment(body: Mapping[str, Any], name: str) -> datetime:
    value = body.get(name)
    if value is None:
        raise _invalid(name, "Required")
    try:
        return parse_utc(value)
    except TimeFormatError:
        raise _invalid(name, "Invalid datetime") from None


def _milliseconds(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:
        raise _invalid(name, "Required")
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral or value < 0:
        raise _invalid(name, "Expected nonnegative integer")
    if value > MAX_WINDOW_MS:
        raise _invalid(name, f"Expected at most {MAX_WINDOW_MS} (one day)")
    return int(value)


def _process(body: Mapping[str, Any]) -> bool:
    value = body.get("process", True)
    if not isinstance(value, bool):
        raise _invalid("process", "Expected boolean")
    return value


def _pct_complete(body: Mapping[str, Any]) -> float | None:
    value = body.get("pctComplete")
    message = pct_complete_problem(value)
    if message is not None:
        raise _invalid("pctComplete", message)
    return None if value is None else float(value)


def too_large(max_bytes: int) -> Reply:
    return error_reply(400, "INVALID_PAYLOAD", f"Body exceeds {max_bytes} bytes")


def parse_body(raw: bytes, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> dict[str, Any]:
    """JSON whatever the Content-Type; anything but an object is refused (as `_Invalid`)."""
    if len(raw) > max_bytes:
        raise _Invalid(too_large(max_bytes))
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _Invalid(error_reply(400, "INVALID_PAYLOAD", f"Malformed JSON: {exc}")) from None
    if not isinstance(value, dict):
        raise _Invalid(error_reply(400, "INVALID_PAYLOAD", "Expected a JSON object"))
    return value


def _internal(message: str) -> _Invalid:
    return _Invalid(error_reply(500, "INTERNAL_ERROR", message))


def _activity(catalog: Catalog, slug: str, name: str, course: Mapping[str, Any],
              process: bool) -> ActivityRef:
    try:
        ref = catalog.activity_ref(slug, name, course)
    except ValidationError as exc:
        if exc.code == UnknownCourse.code:
            raise _Invalid(error_reply(400, exc.code, exc.message, "course", exc.message)) from None
        if exc.code == AmbiguousCourse.code:
            raise _Invalid(error_reply(500, exc.code, exc.message, "course", exc.message)) from None
        raise _invalid(exc.field, exc.message) from None
    except ConfigurationError as exc:
        raise _internal(f"The adapter is misconfigured: {exc}") from None
    return replace(ref, process=process)


def _actor(catalog: Catalog, user: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return catalog.actor(user)
    except ValidationError as exc:
        raise _internal(f"The identity hook returned an unusable learner: {exc}") from None


def heartbeat(body: Mapping[str, Any], user: Mapping[str, Any], catalog: Catalog) -> Outcome:
    """`POST {base}/activity/heartbeat`: one window → one TimeSpentEvent (204, or a duplicate)."""
    slug, name, course = _text(body, "id"), _text(body, "name"), _course(body)
    run_id = _run_id(body)
    started, ended = _moment(body, "startedAt"), _moment(body, "endedAt")
    if ended < started:
        raise _invalid("endedAt", "Expected a time at or after startedAt")
    active_ms, paused_ms = _milliseconds(body, "elapsedMs"), _milliseconds(body, "pausedMs")
    found = report_problem((started, ended), (active_ms, paused_ms))
    if found is not None:
        message, index = found
        raise _invalid("endedAt" if index is None else ("elapsedMs", "pausedMs")[index], message)
    activity = _activity(catalog, slug, name, course, _process(body))
    run = _run(run_id, activity)
    event = time_spent_event(
        actor=_actor(catalog, user), activity=activity, run_id=run.id, run_key=run.key,
        started_at=started, ended_at=ended, active_ms=active_ms, inactive_ms=paused_ms,
        event_id=stable_event_id(run.id, format_utc(started)))
    return Outcome(NO_CONTENT, (event,), if_already_queued=DUPLICATE)


def submit(body: Mapping[str, Any], user: Mapping[str, Any], catalog: Catalog) -> Outcome:
    """`POST {base}/activity/submit`: one completion → one ActivityCompletedEvent (204)."""
    slug, name, course = _text(body, "id"), _text(body, "name"), _course(body)
    run_id = _run_id(body)
    ended = _moment(body, "endedAt")
    raw_metrics = body.get("metrics")
    if raw_metrics is None:
        raise _invalid("metrics", "Required")
    if not isinstance(raw_metrics, dict):
        raise _invalid("metrics", "Expected object")
    try:
        metrics = metrics_from_mapping(raw_metrics, naming="camel", prefix="metrics")
    except CaliperError as exc:
        problem = exc.problems[0]
        raise _invalid(problem.path, problem.message) from None
    pct = _pct_complete(body)
    if pct is not None:
        metrics = metrics_from_mapping({**metrics.to_wire(), "pctComplete": pct})
    activity = _activity(catalog, slug, name, course, _process(body))
    run = _run(run_id, activity)
    event = completed_event(
        actor=_actor(catalog, user), activity=activity, run_id=run.id, run_key=run.key,
        ended_at=ended, metrics=metrics,
        event_id=stable_event_id(run.id, "completed", format_utc(ended)))
    return Outcome(NO_CONTENT, (event,), if_already_queued=NO_CONTENT)


HANDLERS: dict[Route, Callable[[Mapping[str, Any], Mapping[str, Any], Catalog], Outcome]]
HANDLERS = {"heartbeat": heartbeat, "submit": submit}


def interpret(route: Route, user: Mapping[str, Any] | None, raw: bytes, catalog: Catalog,
              max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Outcome:
    """The whole protocol for one request: who (401), what (400/500), and which events."""
    if user is None:
        return Outcome(UNAUTHORIZED)
    try:
        body = parse_body(raw, max_bytes)
        return HANDLERS[route](body, user, catalog)
    except _Invalid as invalid:
        return Outcome(invalid.reply)
