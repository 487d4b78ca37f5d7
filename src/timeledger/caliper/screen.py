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
from functools import lru_cache
from typing import Annotated, Any, Literal

import msgspec
import orjson

from timeledger.caliper.bounds import (
    MAX_ATTEMPT,
    MAX_PCT,
    MAX_WINDOW_SECONDS,
    Span,
    time_event_problem,
)
from timeledger.caliper.core.values import (
    REMEMBERED_CHARS,
    URN_UUID_PATTERN,
    is_iri,
    is_urn_uuid,
)
from timeledger.caliper.core.vocabulary import CALIPER_CONTEXT, TIMEBACK_PROFILE
from timeledger.caliper.envelope import (
    DEFAULT_MAX_EVENTS,
    Envelope,
    ScreenedEvent,
    ScreenedItems,
    TimebackRef,
    parse_envelope,
)
from timeledger.caliper.metrics import metric_problems
from timeledger.caliper.timeback import (
    METRIC_ITEM_TYPES,
    SUBJECTS,
    TIME_ITEM_TYPES,
    Party,
    TimebackFacts,
    TimeWindow,
    completion_facts,
    is_email,
    party_of,
    run_id_from,
    run_key_extension_problem,
    time_facts,
    time_window,
)
from timeledger.caliper.times import TimeFormatError, parse_utc

Subject = Literal[SUBJECTS]  # type: ignore[valid-type]
TimeType = Literal[TIME_ITEM_TYPES]  # type: ignore[valid-type]
MetricType = Literal[METRIC_ITEM_TYPES]  # type: ignore[valid-type]
Scalar = str | int | float | bool | None
# An event's own id is new with every event: msgspec checks it as it converts (values.py's pattern,
# about a quarter cheaper than a call to is_urn_uuid that no memo would ever answer).
UniqueUrnUuid = Annotated[str, msgspec.Meta(pattern=URN_UUID_PATTERN)]
SCREENED_TEXT_CHARS = 64
"""The screen declines (the full rules decide) an eventTime, startDate, endDate or subType longer
than this, or more time items than there are types: every part of a time verdict's key is short,
so the memo of time verdicts (MAX_REMEMBERED_WINDOWS keys) stays small."""
ShortText = Annotated[str, msgspec.Meta(max_length=SCREENED_TEXT_CHARS)]
PartyText = Annotated[str, msgspec.Meta(max_length=REMEMBERED_CHARS)]
"""The screen declines an actor or activity holding a longer text (the full rules decide), so the
memo of their verdicts (MAX_REMEMBERED_PARTIES keys) stays small."""


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    """Unknown keys decline: the full rules decide about them. Left out of the cyclic garbage
    collector's tracking: decoded JSON holds no cycles."""


class _Party(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, gc=False,
             frozen=True):
    """As _Strict, and frozen, so hashable: an event's actor and activity key the memo of their
    verdicts and facts (_checked_party)."""


class _User(_Party, frozen=True):
    id: PartyText
    type: Literal["TimebackUser"]
    email: PartyText
    name: PartyText | None = None
    role: PartyText | None = None


class _Named(_Party, frozen=True):
    name: PartyText


class _Course(_Party, frozen=True):
    name: PartyText
    id: PartyText | None = None


class _Context(_Party, frozen=True):
    id: PartyText
    type: Literal["TimebackActivityContext"]
    subject: Subject
    app: _Named
    course: _Course | None = None
    activity: _Named | None = None
    process: bool | None = None


class _TimeItem(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, gc=False, frozen=True):
    """Frozen, so hashable: a window's items key the memo of time verdicts (_plain_time)."""

    type: TimeType
    value: int | float
    subType: ShortText | None = None
    startDate: ShortText | None = None
    endDate: ShortText | None = None


class _TimeCollection(_Strict):
    type: Literal["TimebackTimeSpentMetricsCollection"]
    items: Annotated[tuple[_TimeItem, ...], msgspec.Meta(max_length=len(TIME_ITEM_TYPES))]
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
    context: Literal[CALIPER_CONTEXT] = msgspec.field(name="@context")  # type: ignore[valid-type]
    id: UniqueUrnUuid
    actor: _User
    object: _Context
    eventTime: ShortText
    profile: Literal[TIMEBACK_PROFILE]  # type: ignore[valid-type]
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
    data: list[msgspec.Raw]
    """Each item's JSON text, decoded on its own (`_EVENT`): no dict is built for it."""


_ENVELOPE = msgspec.json.Decoder(_Envelope, strict=True)
_EVENT = msgspec.json.Decoder(_TimeSpent | _Completed, strict=True)


def read_envelope(raw: bytes | str, max_events: int = DEFAULT_MAX_EVENTS) -> Envelope:
    """What ingest calls: the screen for plain Timeback envelopes, the full rules (and their
    errors naming the field) for everything else."""
    return screen_envelope(raw, max_events) or parse_envelope(raw, max_events)


def screen_envelope(raw: bytes | str, max_events: int) -> Envelope | None:
    """The checked envelope when it is plainly valid Timeback; None to let the full rules decide.

    Each event's stored text is its JSON as received when the body is written compactly (as
    orjson, JSON.stringify and the SDKs write it), else orjson's writing of it, as the full
    rules store it: one line (export writes NDJSON), and a text compaction can take fields out
    of (store/column_fields.py)."""
    if _holds_nul_escape(raw):
        return None  # text holding U+0000: the full rules name where
    try:
        parsed = _ENVELOPE.decode(raw)
        if not parsed.data or len(parsed.data) > max_events:
            return None
        events = [_EVENT.decode(item) for item in parsed.data]
    except msgspec.DecodeError:  # malformed, or not plain Timeback (ValidationError)
        return None
    if (parsed.dataVersion != CALIPER_CONTEXT or not is_iri(parsed.sensor)
            or not _utc(parsed.sendTime)):
        return None
    as_received = not _spaced_or_escaped(raw)
    refs: dict[int, TimebackRef] = {}
    screened: list[ScreenedEvent] = []
    for index, (event, item) in enumerate(zip(events, parsed.data, strict=True)):
        event_time = _plain_event_time(event)
        if event_time is None:
            return None
        refs[index] = _ref(event.actor.email,
                           event.extensions.get("runId") if event.extensions else None,
                           event.session)
        text = bytes(item).decode() if as_received else orjson.dumps(
            orjson.loads(bytes(item))).decode()
        screened.append(ScreenedEvent(event.id, "TimeSpentEvent" if isinstance(event, _TimeSpent)
                                      else "ActivityEvent", event.action, event.profile,
                                      event.actor.id, event_time, text))
    return Envelope(parsed.sensor, parsed.sendTime, parsed.dataVersion, ScreenedItems(screened),
                    refs=refs, screened=screened)


def _spaced_or_escaped(raw: bytes | str) -> bool:
    """Whether the body may be written other than orjson writes it: an escape, a line break or
    a tab (never inside a JSON string), or `": "` or `", "` (Python's json default; a quote
    inside a string is escaped, so these are separators). Other spacing is stored as received,
    which reads back byte for byte and only compacts less."""
    body = raw.encode() if isinstance(raw, str) else raw
    return (b"\\" in body or b"\n" in body or b"\r" in body or b"\t" in body
            or b'": ' in body or b'", ' in body)


MAX_REMEMBERED_REFS = 4096
"""At most this many learners' runs keep their (immutable) ref, least recently used going first:
a run's heartbeats repeat its learner and run across envelopes. Only runIds of at most
REMEMBERED_CHARS characters are remembered (the email and session are checked and bounded)."""


def _ref(email: str, extension_run_id: Scalar, session: str | None) -> TimebackRef:
    if isinstance(extension_run_id, str) and len(extension_run_id) > REMEMBERED_CHARS:
        return _new_ref(email, extension_run_id, session)
    return _remembered_ref(email, extension_run_id, session)


def _new_ref(email: str, extension_run_id: Scalar, session: str | None) -> TimebackRef:
    return TimebackRef(email.strip().lower(), run_id_from(extension_run_id, session))


_remembered_ref = lru_cache(maxsize=MAX_REMEMBERED_REFS)(_new_ref)


def screen_stored_text(text: bytes | str) -> TimebackFacts | None:
    """A stored event's facts when it is plainly valid Timeback, by the same checks as at ingest;
    None to let the full rules decide (the projector's fast path). It takes the JSON text as the
    log keeps it and decodes it straight into the structs: no dict in between."""
    if _holds_nul_escape(text):
        return None  # text holding U+0000: the full rules refuse it
    try:
        event = _EVENT.decode(text)
    except msgspec.DecodeError:  # malformed, or not a plain Timeback event (ValidationError)
        return None
    party = _plain_party(event)
    if party is None:
        return None
    if isinstance(event, _TimeSpent):
        window = _plain_time(event.eventTime, event.generated.items)
        return None if window is None else time_facts(event, window, party)
    event_time = _plain_completion(event)
    return None if event_time is None else completion_facts(event, event_time, party)


def _holds_nul_escape(text: bytes | str) -> bool:
    """Whether JSON text spells U+0000 (`\\u0000`). Most bodies hold no backslash at all: a
    one-byte search (memchr) answers them, a tenth of the cost of the six-byte one."""
    if isinstance(text, bytes):
        return b"\\" in text and b"\\u0000" in text
    return "\\" in text and "\\u0000" in text


def _utc(value: str) -> bool:
    return _moment(value) is not None


def _moment(value: str) -> datetime | None:
    try:
        return parse_utc(value)
    except TimeFormatError:
        return None


def _plain_event_time(event: _TimeSpent | _Completed) -> datetime | None:
    """The event's parsed eventTime if it keeps every rule, else None."""
    if _plain_party(event) is None:
        return None
    if isinstance(event, _TimeSpent):
        window = _plain_time(event.eventTime, event.generated.items)
        return None if window is None else window[0]
    return _plain_completion(event)


def _plain_party(event: _TimeSpent | _Completed) -> Party | None:
    """The rules every plain Timeback event keeps, whatever its kind, beyond those its structs say
    (its context, profile and own id): its actor's and activity's facts if they hold, else None."""
    ext, session, collection_id = event.extensions, event.session, event.generated.id
    if ((session is not None and not is_urn_uuid(session))
            or (collection_id is not None and not is_iri(collection_id))
            or (ext is not None and "runKey" in ext
                and run_key_extension_problem(ext) is not None)):
        return None
    return _checked_party(event.actor, event.object)


MAX_REMEMBERED_PARTIES = 4096
"""At most this many actor and activity pairs keep their verdict and facts (least recently used go
first): a learner's events repeat them."""


@lru_cache(maxsize=MAX_REMEMBERED_PARTIES)
def _checked_party(actor: _User, activity: _Context) -> Party | None:
    course = activity.course
    if (not is_iri(actor.id) or not is_email(actor.email) or not is_iri(activity.id)
            or (course is not None and course.id is not None and not is_iri(course.id))):
        return None
    return party_of(actor, activity)


def _plain_completion(event: _Completed) -> datetime | None:
    """A completion's parsed eventTime if its time and metrics keep the rules, else None."""
    event_time = _moment(event.eventTime)  # core's event_time_problem: the same parse_utc
    return event_time if event_time is not None and _plain_metrics(event.generated) else None


MAX_REMEMBERED_WINDOWS = 4096
"""At most this many time verdicts are remembered (least recently used go first). A window's
items and event time repeat across the learners of an envelope: checked once, looked up after.
A verdict that holds keeps the times it parsed (`time_window`), which the projector's facts use."""


@lru_cache(maxsize=MAX_REMEMBERED_WINDOWS)
def _plain_time(event_time_text: str, items: tuple[_TimeItem, ...]) -> TimeWindow | None:
    """A TimeSpentEvent's parsed eventTime and window if its eventTime and items keep the rules,
    else None (a pure function of them)."""
    event_time = _moment(event_time_text)
    if event_time is None or not items or len({item.type for item in items}) != len(items):
        return None
    spans: list[Span] = []
    for item in items:
        if not 0 <= item.value <= MAX_WINDOW_SECONDS:
            return None
        start = _moment(item.startDate) if item.startDate is not None else None
        end = _moment(item.endDate) if item.endDate is not None else None
        if (start is None) != (item.startDate is None) or (end is None) != (item.endDate is None):
            return None  # a date that does not parse
        spans.append((start, end))
    if time_event_problem([item.value for item in items], spans, event_time) is not None:
        return None
    return time_window(event_time, spans)


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
