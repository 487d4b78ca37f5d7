"""A compiled screen for the common envelope: plain Timeback events, accepted without models.

`parse_envelope` (envelope.py) checks any Caliper envelope with the full rules and names every
problem; it builds a pydantic model per event, which costs more than storing the event does. Most
envelopes are nothing but well-formed TimebackProfile events, so the ingest path first offers the
body to this screen: msgspec converts it into strict structs (C speed) and the rules the structs
cannot express are checked by the same functions the models call (times and bounds, IRIs, ids,
metrics). The screen only ever *accepts*, and only what is plainly valid: anything it does not
recognise (an unknown key, a core Caliper item, a context array, a rule broken) makes it decline,
and the full rules decide and explain. Every rule keeps its one home; a test holds the two paths
equal on every fixture, every IMS conformance case and generated envelopes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
import orjson

from timeledger.caliper.bounds import (
    MAX_ATTEMPT,
    MAX_PCT,
    MAX_WINDOW_SECONDS,
    Span,
    time_event_problem,
)
from timeledger.caliper.core.values import is_iri, is_urn_uuid
from timeledger.caliper.core.vocabulary import CALIPER_CONTEXT, TIMEBACK_PROFILE
from timeledger.caliper.envelope import DEFAULT_MAX_EVENTS, Envelope, TimebackRef, parse_envelope
from timeledger.caliper.metrics import metric_problems
from timeledger.caliper.timeback import (
    METRIC_ITEM_TYPES,
    SUBJECTS,
    TIME_ITEM_TYPES,
    TimebackFacts,
    completion_facts,
    is_email,
    run_id_from,
    run_key_extension_problem,
    time_facts,
)
from timeledger.caliper.times import TimeFormatError, parse_utc

Subject = Literal[SUBJECTS]  # type: ignore[valid-type]
TimeType = Literal[TIME_ITEM_TYPES]  # type: ignore[valid-type]
MetricType = Literal[METRIC_ITEM_TYPES]  # type: ignore[valid-type]
Scalar = str | int | float | bool | None


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Unknown keys decline: the full rules decide about them."""


class _User(_Strict):
    id: str
    type: Literal["TimebackUser"]
    email: str
    name: str | None = None
    role: str | None = None


class _Named(_Strict):
    name: str


class _Course(_Strict):
    name: str
    id: str | None = None


class _Context(_Strict):
    id: str
    type: Literal["TimebackActivityContext"]
    subject: Subject
    app: _Named
    course: _Course | None = None
    activity: _Named | None = None
    process: bool | None = None


class _TimeItem(_Strict):
    type: TimeType
    value: int | float
    subType: str | None = None
    startDate: str | None = None
    endDate: str | None = None


class _TimeCollection(_Strict):
    type: Literal["TimebackTimeSpentMetricsCollection"]
    items: list[_TimeItem]
    id: str | None = None


class _MetricItem(_Strict):
    type: MetricType
    value: int | float


class _MetricExtensions(_Strict):
    pctCompleteApp: int | float | None = None


class _MetricCollection(_Strict):
    type: Literal["TimebackActivityMetricsCollection"]
    items: list[_MetricItem]
    id: str | None = None
    attempt: int | None = None
    extensions: _MetricExtensions | None = None


class _Event(_Strict, tag_field="type"):
    context: str = msgspec.field(name="@context")
    id: str
    actor: _User
    object: _Context
    eventTime: str
    profile: Literal["TimebackProfile"]
    session: str | None = None
    extensions: dict[str, Scalar] | None = None


class _TimeSpent(_Event, tag="TimeSpentEvent", kw_only=True):
    action: Literal["SpentTime"]
    generated: _TimeCollection


class _Completed(_Event, tag="ActivityEvent", kw_only=True):
    action: Literal["Completed"]
    generated: _MetricCollection


class _Envelope(_Strict):
    sensor: str
    sendTime: str
    dataVersion: str
    data: list[_TimeSpent | _Completed]


def read_envelope(raw: bytes | str, max_events: int = DEFAULT_MAX_EVENTS) -> Envelope:
    """What ingest calls: the screen for plain Timeback envelopes, the full rules (and their
    errors naming the field) for everything else."""
    return screen_envelope(raw, max_events) or parse_envelope(raw, max_events)


def screen_envelope(raw: bytes | str, max_events: int) -> Envelope | None:
    """The checked envelope when it is plainly valid Timeback; None to let the full rules decide."""
    if (b"\\u0000" in raw) if isinstance(raw, bytes) else ("\\u0000" in raw):
        return None  # text holding U+0000: the full rules name where
    try:
        body = orjson.loads(raw)
        parsed = msgspec.convert(body, _Envelope, strict=True)
    except (orjson.JSONDecodeError, msgspec.ValidationError):
        return None
    if (parsed.dataVersion != CALIPER_CONTEXT or not parsed.data
            or len(parsed.data) > max_events or not is_iri(parsed.sensor)
            or not _utc(parsed.sendTime)):
        return None
    refs: dict[int, TimebackRef] = {}
    for index, event in enumerate(parsed.data):
        if not _plain_event(event):
            return None
        ext_run = event.extensions.get("runId") if event.extensions else None
        refs[index] = TimebackRef(event.actor.email.strip().lower(),
                                  run_id_from(ext_run, event.session))
    return Envelope(parsed.sensor, parsed.sendTime, parsed.dataVersion, body["data"], refs=refs)


_STORED_EVENT = msgspec.json.Decoder(_TimeSpent | _Completed, strict=True)


def screen_stored_text(text: bytes | str) -> TimebackFacts | None:
    """A stored event's facts when it is plainly valid Timeback, by the same checks as at ingest;
    None to let the full rules decide (the projector's fast path). It takes the JSON text as the
    log keeps it and decodes it straight into the structs: no dict in between."""
    if (b"\\u0000" in text) if isinstance(text, bytes) else ("\\u0000" in text):
        return None  # text holding U+0000: the full rules refuse it
    try:
        event = _STORED_EVENT.decode(text)
    except msgspec.DecodeError:  # malformed, or not a plain Timeback event (ValidationError)
        return None
    if not _plain_event(event):
        return None
    return time_facts(event) if isinstance(event, _TimeSpent) else completion_facts(event)


def _utc(value: str) -> bool:
    return _moment(value) is not None


def _moment(value: str) -> datetime | None:
    try:
        return parse_utc(value)
    except TimeFormatError:
        return None


def _plain_event(event: _TimeSpent | _Completed) -> bool:
    if (event.context != CALIPER_CONTEXT or event.profile != TIMEBACK_PROFILE
            or not is_urn_uuid(event.id)
            or (event.session is not None and not is_urn_uuid(event.session))
            or not is_iri(event.actor.id) or not is_email(event.actor.email)
            or not is_iri(event.object.id)
            or (event.object.course is not None and event.object.course.id is not None
                and not is_iri(event.object.course.id))
            or (event.generated.id is not None and not is_iri(event.generated.id))
            or run_key_extension_problem(event.extensions) is not None):
        return False
    event_time = _moment(event.eventTime)  # core's event_time_problem: the same parse_utc
    if event_time is None:
        return False
    if isinstance(event, _TimeSpent):
        return _plain_time(event.generated.items, event_time)
    return _plain_metrics(event.generated)


def _plain_time(items: list[_TimeItem], event_time: datetime) -> bool:
    if not items or len({item.type for item in items}) != len(items):
        return False
    spans: list[Span] = []
    for item in items:
        if not 0 <= item.value <= MAX_WINDOW_SECONDS:
            return False
        start = _moment(item.startDate) if item.startDate is not None else None
        end = _moment(item.endDate) if item.endDate is not None else None
        if (start is None) != (item.startDate is None) or (end is None) != (item.endDate is None):
            return False  # a date that does not parse
        spans.append((start, end))
    return time_event_problem([item.value for item in items], spans, event_time) is None


def _plain_metrics(collection: _MetricCollection) -> bool:
    values: dict[str, Any] = {}
    for item in collection.items:
        if item.type in values:
            return False
        values[item.type] = item.value
    if collection.attempt is not None and not 1 <= collection.attempt <= MAX_ATTEMPT:
        return False
    pct = collection.extensions.pctCompleteApp if collection.extensions else None
    if pct is not None and not 0 <= pct <= MAX_PCT:
        return False
    return not metric_problems(values, prefix="items")
