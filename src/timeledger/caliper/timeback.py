"""The TimebackProfile events: strict models, profile rules, and the facts the platform reads."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal, NamedTuple, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from timeledger.caliper.bounds import (
    MAX_ATTEMPT,
    MAX_EMAIL_CHARS,
    MAX_PCT,
    MAX_WINDOW_SECONDS,
    Span,
    event_window,
    run_key_problem,
    time_event_problem,
)
from timeledger.caliper.core.values import MAX_REMEMBERED_VALUES, iri_problem, is_urn_uuid
from timeledger.caliper.core.vocabulary import CALIPER_CONTEXT as CALIPER_CONTEXT
from timeledger.caliper.core.vocabulary import TIMEBACK_PROFILE as TIMEBACK_PROFILE
from timeledger.caliper.errors import CaliperError, Problem
from timeledger.caliper.metrics import metric_problems
from timeledger.caliper.times import TimeFormatError, parse_utc

SUBJECTS = (
    "Reading", "Language", "Vocabulary", "Social Studies", "Writing",
    "Science", "FastMath", "Math", "None", "Other",
)
TIME_ITEM_TYPES = ("active", "inactive", "waste", "unknown", "anti-pattern")
METRIC_ITEM_TYPES = ("xpEarned", "totalQuestions", "correctQuestions", "masteredUnits")

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\Z")  # \Z, not $: no trailing newline


def _iri(value: str) -> str:
    message = iri_problem(value)  # the one IRI rule, shared with the core checks
    if message is not None:
        raise ValueError(message)
    return value


def _urn_uuid(value: str) -> str:
    if not is_urn_uuid(value):
        raise ValueError("Expected urn:uuid:<uuid>")
    return value


def _utc(value: str) -> str:
    try:
        parse_utc(value)
    except TimeFormatError as exc:
        raise ValueError(str(exc)) from None
    return value


def is_email(value: str) -> bool:
    return len(value) <= MAX_EMAIL_CHARS and _remembered_email(value)


@lru_cache(maxsize=MAX_REMEMBERED_VALUES)  # a learner's address repeats across envelopes
def _remembered_email(value: str) -> bool:
    return _EMAIL.match(value) is not None


def _email(value: str) -> str:
    if not is_email(value):
        raise ValueError(f"Expected an email address of at most {MAX_EMAIL_CHARS} characters")
    return value


Iri = Annotated[StrictStr, AfterValidator(_iri)]
UrnUuid = Annotated[StrictStr, AfterValidator(_urn_uuid)]
UtcTime = Annotated[StrictStr, AfterValidator(_utc)]
Email = Annotated[StrictStr, AfterValidator(_email)]
Number = StrictInt | StrictFloat


class _Wire(BaseModel):
    """Strict on what we read, keeping every other key so nothing is lost on a round trip."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class TimebackUser(_Wire):
    id: Iri
    type: Literal["TimebackUser"]
    email: Email
    name: StrictStr | None = None
    role: StrictStr | None = None


class Named(_Wire):
    name: StrictStr


class CourseRef(_Wire):
    id: Iri | None = None
    name: StrictStr


class TimebackActivityContext(_Wire):
    id: Iri
    type: Literal["TimebackActivityContext"]
    subject: Literal[SUBJECTS]  # type: ignore[valid-type]
    app: Named
    course: CourseRef | None = None
    activity: Named | None = None
    process: StrictBool | None = None


class MetricItem(_Wire):
    type: Literal[METRIC_ITEM_TYPES]  # type: ignore[valid-type]
    value: Number


class ActivityMetricsExtensions(_Wire):
    pctCompleteApp: Annotated[Number, Field(ge=0, le=MAX_PCT)] | None = None


class ActivityMetricsCollection(_Wire):
    id: Iri | None = None
    type: Literal["TimebackActivityMetricsCollection"]
    items: list[MetricItem]
    attempt: Annotated[StrictInt, Field(ge=1, le=MAX_ATTEMPT)] | None = None
    extensions: ActivityMetricsExtensions | None = None

    @model_validator(mode="after")
    def _metric_rules(self) -> ActivityMetricsCollection:
        seen: dict[str, object] = {}
        for index, item in enumerate(self.items):
            if item.type in seen:
                raise _PathError(f"items[{index}].type", f"Duplicate metric item {item.type!r}")
            seen[item.type] = item.value
        problems = metric_problems(seen, prefix="items")
        if problems:
            first = problems[0]
            where = first.path.removeprefix("items.").removeprefix("items")
            found = next((i for i, it in enumerate(self.items) if it.type == where), None)
            path = f"items[{found}].value" if found is not None else "items"
            raise _PathError(path, first.message)
        return self


class TimeItem(_Wire):
    type: Literal[TIME_ITEM_TYPES]  # type: ignore[valid-type]
    value: Annotated[Number, Field(ge=0, le=MAX_WINDOW_SECONDS)]
    subType: StrictStr | None = None
    startDate: UtcTime | None = None
    endDate: UtcTime | None = None


class TimeSpentMetricsCollection(_Wire):
    id: Iri | None = None
    type: Literal["TimebackTimeSpentMetricsCollection"]
    items: Annotated[list[TimeItem], Field(min_length=1)]

    @model_validator(mode="after")
    def _one_item_per_type(self) -> TimeSpentMetricsCollection:
        seen: set[str] = set()
        for index, item in enumerate(self.items):
            if item.type in seen:
                raise _PathError(f"items[{index}].type", f"Duplicate time item {item.type!r}")
            seen.add(item.type)
        return self


class _TimebackEvent(_Wire):
    context: Annotated[StrictStr | list[Any], Field(alias="@context")]
    id: UrnUuid
    actor: TimebackUser
    object: TimebackActivityContext
    eventTime: UtcTime
    profile: Literal["TimebackProfile"]
    session: UrnUuid | None = None
    extensions: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _run_key_within_bounds(self) -> _TimebackEvent:
        problem = run_key_extension_problem(self.extensions)
        if problem is not None:
            raise _PathError("extensions.runKey", problem)
        return self


def run_key_extension_problem(extensions: Mapping[str, Any] | None) -> str | None:
    """Why `extensions.runKey` (the app's own name for the run) breaks bounds.py's bounds, or
    None (also when there is none)."""
    if extensions is None or "runKey" not in extensions:
        return None
    key = extensions["runKey"]
    if not isinstance(key, str):
        return "Expected a string (the app's own runId)"
    return run_key_problem(key)


class ActivityCompletedEvent(_TimebackEvent):
    type: Literal["ActivityEvent"]
    action: Literal["Completed"]
    generated: ActivityMetricsCollection


class TimeSpentEvent(_TimebackEvent):
    type: Literal["TimeSpentEvent"]
    action: Literal["SpentTime"]
    generated: TimeSpentMetricsCollection

    @model_validator(mode="after")
    def _time_within_window(self) -> TimeSpentEvent:
        """One window of at most a day, holding no more time than it lasts (bounds.py)."""
        items = self.generated.items
        found = time_event_problem([item.value for item in items], _spans(self),
                                   parse_utc(self.eventTime))
        if found is not None:
            where, message = found
            raise _PathError(where if where == "eventTime" else f"generated.{where}", message)
        return self


TimebackEvent = Annotated[ActivityCompletedEvent | TimeSpentEvent, Field(discriminator="type")]
_EVENT_ADAPTER: TypeAdapter[ActivityCompletedEvent | TimeSpentEvent] = TypeAdapter(TimebackEvent)


class _PathError(ValueError):
    """A rule broken below the model being validated, at a path relative to it."""

    def __init__(self, relative_path: str, message: str) -> None:
        super().__init__(message)
        self.relative_path = relative_path
        self.message = message


def is_timeback_event(item: object) -> bool:
    """True for items that claim the TimebackProfile (by profile, or by a Timeback-only type).

    Caliper 1.2 core has no ActivityEvent or TimeSpentEvent, so either type is held to the
    profile's rules even when `profile` is missing (and then fails for the lack of it).
    """
    if not isinstance(item, dict):
        return False
    return item.get("profile") == TIMEBACK_PROFILE or item.get("type") in (
        "TimeSpentEvent", "ActivityEvent")


def _loc_to_path(base: str, loc: tuple[int | str, ...]) -> str:
    path = base
    for part in loc:
        if part in ("ActivityEvent", "TimeSpentEvent"):
            continue  # the discriminator's own loc entry
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith(("function-after", "int", "float", "str", "list", "literal")):
            continue
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "Required"
    if kind == "extra_forbidden":
        return "Unknown property"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "union_tag_invalid":
        return "Expected type ActivityEvent or TimeSpentEvent for the TimebackProfile"
    return message


def parse_timeback_event(item: object, path: str) -> ActivityCompletedEvent | TimeSpentEvent:
    """Parse one TimebackProfile event; every problem names its full path from the envelope."""
    try:
        return _EVENT_ADAPTER.validate_python(item)
    except ValidationError as exc:
        problems: list[Problem] = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            ctx_error = (error.get("ctx") or {}).get("error")
            if isinstance(ctx_error, _PathError):
                prefix = _loc_to_path(path, loc)
                problems.append(Problem(f"{prefix}.{ctx_error.relative_path}", ctx_error.message))
            elif error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                problems.append(Problem(_loc_to_path(path, (*loc, "type")), _message(error)))
            else:
                problems.append(Problem(_loc_to_path(path, loc), _message(error)))
        raise CaliperError(_dedupe_union_noise(problems)) from None


def _dedupe_union_noise(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    return [p for p in problems if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def dump_event(event: ActivityCompletedEvent | TimeSpentEvent) -> dict[str, Any]:
    """Serialize back to the wire shape (aliases, only what was set)."""
    return event.model_dump(by_alias=True, exclude_unset=True)


# --- the facts the pipeline needs, read once from a parsed event ---------------------------------

class TimebackFacts(NamedTuple):
    """One Timeback event reduced to what projections use. Immutable, and a named tuple rather
    than a frozen dataclass: the projector builds one per stored event, and a frozen dataclass
    of these fields takes over twice as long to build (a setattr call per field). (msgspec's
    structs are cheaper still, but the SDK, which imports this module, must not need msgspec.)"""

    event_id: str
    kind: Literal["time", "completion"]
    event_time: datetime
    run_id: str | None
    run_key: str | None
    learner_email: str
    actor_id: str
    actor_name: str | None
    activity_id: str
    activity_name: str | None
    subject: str
    app_name: str
    course_id: str
    course_name: str | None
    # time events
    seconds: dict[str, float]
    window_start: datetime | None
    window_end: datetime | None
    # completion events
    xp_earned: float | None
    total_questions: int | None
    correct_questions: int | None
    mastered_units: int | None
    attempt: int | None
    pct_complete: float | None


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class _CourseRef(Protocol):
    @property
    def id(self) -> str | None: ...
    @property
    def name(self) -> str: ...


class _Actor(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def name(self) -> str | None: ...


class _Activity(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def app(self) -> _Named: ...
    @property
    def course(self) -> _CourseRef | None: ...
    @property
    def activity(self) -> _Named | None: ...


class _TimeItem(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def startDate(self) -> str | None: ...
    @property
    def endDate(self) -> str | None: ...


class _MetricItem(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def value(self) -> float: ...


class _MetricExtensions(Protocol):
    @property
    def pctCompleteApp(self) -> float | None: ...


class _TimeCollection(Protocol):
    @property
    def items(self) -> Sequence[_TimeItem]: ...


class _MetricCollection(Protocol):
    @property
    def items(self) -> Sequence[_MetricItem]: ...
    @property
    def attempt(self) -> int | None: ...
    @property
    def extensions(self) -> _MetricExtensions | None: ...


class _Event(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def eventTime(self) -> str: ...
    @property
    def session(self) -> str | None: ...
    @property
    def extensions(self) -> Mapping[str, object] | None: ...
    @property
    def actor(self) -> _Actor: ...
    @property
    def object(self) -> _Activity: ...


class TimeEventShape(_Event, Protocol):
    """A checked TimeSpentEvent as the facts read it: the pydantic model, or the screen's struct
    (caliper/screen.py), so both give the same facts by the same code."""

    @property
    def generated(self) -> _TimeCollection: ...


class CompletionEventShape(_Event, Protocol):
    """A checked ActivityCompletedEvent as the facts read it (the model or the screen's struct)."""

    @property
    def generated(self) -> _MetricCollection: ...


def _spans(event: TimeEventShape) -> list[Span]:
    return [(parse_utc(item.startDate) if item.startDate else None,
             parse_utc(item.endDate) if item.endDate else None) for item in event.generated.items]


_SESSION_PREFIX = "urn:uuid:"


def run_id_of(event: TimeEventShape | CompletionEventShape) -> str | None:
    """`extensions.runId` first, then `session` (protocol.md 2.3), as a bare lower-case uuid."""
    return run_id_from((event.extensions or {}).get("runId"), event.session)


def run_id_from(extension_run_id: object, session: str | None) -> str | None:
    if isinstance(extension_run_id, str) and extension_run_id:
        return extension_run_id.removeprefix(_SESSION_PREFIX).lower()
    if session:
        return session.removeprefix(_SESSION_PREFIX).lower()
    return None


def facts_of(event: ActivityCompletedEvent | TimeSpentEvent) -> TimebackFacts:
    if isinstance(event, TimeSpentEvent):
        return time_facts(event)
    return completion_facts(event)


#: What an event's actor and activity give its facts (`party_of`): the learner's email lower-cased,
#: the actor's id and name, the activity's id and name, the subject, the app's name, the course id
#: its ref gives (else the subject) and the course's name.
Party = tuple[str, str, str | None, str, str | None, str, str, str, str | None]


def party_of(actor: _Actor, activity: _Activity) -> Party:
    """The facts an event's actor and activity give, alike for every event of theirs: the screen
    remembers them per actor and activity (caliper/screen.py)."""
    ref = activity.course
    named = activity.activity
    return (actor.email.strip().lower(), actor.id, actor.name, activity.id,
            None if named is None else named.name, activity.subject, activity.app.name,
            activity.subject if ref is None else (ref.id or ref.name),
            None if ref is None else ref.name)


_new_facts = tuple.__new__
"""TimebackFacts built from its fields in order, in C: the named tuple's own `__new__` is a Python
function, and its keywords cost more still (the projector makes one per stored event)."""


def _facts(event: TimeEventShape | CompletionEventShape, party: Party | None,
           event_time: datetime, kind: Literal["time", "completion"], seconds: dict[str, float],
           window_start: datetime | None = None, window_end: datetime | None = None,
           xp_earned: float | None = None, total_questions: int | None = None,
           correct_questions: int | None = None, mastered_units: int | None = None,
           attempt: int | None = None, pct_complete: float | None = None) -> TimebackFacts:
    """The facts of either kind: what every event names, and the kind's own. `party`: `party_of`
    this event's actor and activity, when the caller has it already."""
    email, actor_id, actor_name, activity_id, activity_name, subject, app_name, course_id, \
        course_name = party_of(event.actor, event.object) if party is None else party
    ext = event.extensions
    run_key: object = None
    if ext is not None:  # extensions.courseId before the course's ref; runId before the session
        ext_course, run_key = ext.get("courseId"), ext.get("runKey")
        if isinstance(ext_course, str) and ext_course:
            course_id = ext_course
        run_id = run_id_from(ext.get("runId"), event.session)
    else:
        run_id = run_id_from(None, event.session)
    facts: TimebackFacts = _new_facts(TimebackFacts, (  # in TimebackFacts' order
        event.id, kind, event_time, run_id, run_key if isinstance(run_key, str) else None, email,
        actor_id, actor_name, activity_id, activity_name, subject, app_name, course_id,
        course_name, seconds, window_start, window_end, xp_earned, total_questions,
        correct_questions, mastered_units, attempt, pct_complete))
    return facts


#: A checked time event's eventTime and its window's start and reported end (`time_window`).
TimeWindow = tuple[datetime, datetime | None, datetime | None]


def time_window(event_time: datetime, spans: Sequence[Span]) -> TimeWindow:
    """The eventTime with the window `time_facts` reads from the items' parsed spans."""
    start, end, end_index = event_window(spans, event_time)
    return event_time, start, None if end_index is None else end


def time_facts(event: TimeEventShape, window: TimeWindow | None = None,
               party: Party | None = None) -> TimebackFacts:
    """`window`: `time_window` of this event's eventTime and items, when the caller has it
    already (the screen remembers it per window); else parsed here. `party`: see `_facts`."""
    if window is None:
        window = time_window(parse_utc(event.eventTime), _spans(event))
    event_time, start, end = window
    return _facts(event, party, event_time, "time",
                  {item.type: float(item.value) for item in event.generated.items}, start, end)


def completion_facts(event: CompletionEventShape, event_time: datetime | None = None,
                     party: Party | None = None) -> TimebackFacts:
    """`event_time`: the event's eventTime parsed, when the caller has it already; `party`: see
    `_facts`."""
    values = {item.type: item.value for item in event.generated.items}

    def count(name: str) -> int | None:
        value = values.get(name)
        return None if value is None else int(value)

    ext = event.generated.extensions
    pct = ext.pctCompleteApp if ext else None
    return _facts(
        event, party, parse_utc(event.eventTime) if event_time is None else event_time,
        "completion",
        {}, xp_earned=float(values["xpEarned"]),
        total_questions=count("totalQuestions"), correct_questions=count("correctQuestions"),
        mastered_units=count("masteredUnits"), attempt=event.generated.attempt,
        pct_complete=None if pct is None else float(pct))
