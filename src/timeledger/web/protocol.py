"""The adapter protocol, framework-free: (learner, request body) in, (status, reply, events) out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal, Protocol

import orjson

from timeledger.caliper.bounds import report_problem
from timeledger.caliper.builders import (
    ActivityRef,
    RunRef,
    completed_event,
    run_ref,
    stable_event_id,
    time_spent_event,
)
from timeledger.caliper.errors import CaliperError
from timeledger.caliper.metrics import metrics_from_mapping
from timeledger.caliper.times import format_utc
from timeledger.config import AmbiguousCourse, UnknownCourse
from timeledger.sdk.errors import ConfigurationError, ValidationError
from timeledger.web.request_bodies import (
    BodyModel,
    BodyProblem,
    Heartbeat,
    SubmitBody,
    read_body,
    read_heartbeat,
)

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


def _read(model: type[BodyModel], body: dict[str, Any]) -> BodyModel:
    try:
        return read_body(model, body)
    except BodyProblem as problem:
        raise _invalid(problem.field, problem.message) from None


def _read_heartbeat(body: dict[str, Any]) -> Heartbeat:
    try:
        return read_heartbeat(body)
    except BodyProblem as problem:
        raise _invalid(problem.field, problem.message) from None


def _run(run_id: str, activity: ActivityRef) -> RunRef:
    """The run a checked runId names: a UUID as is, the app's own string as its UUIDv5 under the
    activity's sensor (kept as the run key)."""
    return _run_under(run_id, activity.run_sensor())


@lru_cache(maxsize=4096)  # every heartbeat of a run names it again
def _run_under(run_id: str, sensor: str) -> RunRef:
    return run_ref(run_id, sensor, field="runId")


@lru_cache(maxsize=4096)  # every heartbeat of a lesson names the same activity
def _with_process(ref: ActivityRef, process: bool) -> ActivityRef:
    return replace(ref, process=process)


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
    return _with_process(ref, process)


def _actor(catalog: Catalog, user: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return catalog.actor(user)
    except ValidationError as exc:
        raise _internal(f"The identity hook returned an unusable learner: {exc}") from None


def heartbeat(body: dict[str, Any], user: Mapping[str, Any], catalog: Catalog) -> Outcome:
    """`POST {base}/activity/heartbeat`: one window → one TimeSpentEvent (204, or a duplicate)."""
    beat = _read_heartbeat(body)
    if beat.ended_at < beat.started_at:
        raise _invalid("endedAt", "Expected a time at or after startedAt")
    found = report_problem((beat.started_at, beat.ended_at), (beat.elapsed_ms, beat.paused_ms))
    if found is not None:
        message, index = found
        raise _invalid("endedAt" if index is None else ("elapsedMs", "pausedMs")[index], message)
    activity = _activity(catalog, beat.id, beat.name, beat.course, beat.process)
    run = _run(beat.run_id, activity)
    event = time_spent_event(
        actor=_actor(catalog, user), activity=activity, run_id=run.id, run_key=run.key,
        started_at=beat.started_at, ended_at=beat.ended_at, active_ms=beat.elapsed_ms,
        inactive_ms=beat.paused_ms,
        event_id=stable_event_id(run.id, format_utc(beat.started_at)))
    return Outcome(NO_CONTENT, (event,), if_already_queued=DUPLICATE)


def submit(body: dict[str, Any], user: Mapping[str, Any], catalog: Catalog) -> Outcome:
    """`POST {base}/activity/submit`: one completion → one ActivityCompletedEvent (204)."""
    done = _read(SubmitBody, body)
    try:
        metrics = metrics_from_mapping(done.metrics, naming="camel", prefix="metrics")
    except CaliperError as exc:
        problem = exc.problems[0]
        raise _invalid(problem.path, problem.message) from None
    if done.pctComplete is not None:
        metrics = metrics_from_mapping({**metrics.to_wire(), "pctComplete": done.pctComplete})
    activity = _activity(catalog, done.id, done.name, done.course.selector(), done.process)
    run = _run(done.runId, activity)
    event = completed_event(
        actor=_actor(catalog, user), activity=activity, run_id=run.id, run_key=run.key,
        ended_at=done.endedAt, metrics=metrics,
        event_id=stable_event_id(run.id, "completed", format_utc(done.endedAt)))
    return Outcome(NO_CONTENT, (event,), if_already_queued=NO_CONTENT)


HANDLERS: dict[Route, Callable[[dict[str, Any], Mapping[str, Any], Catalog], Outcome]]
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
