"""The Caliper envelope: parse a request body into checked events, or say exactly what is wrong."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, overload

import orjson

from timeledger.caliper.bounds import MAX_IRI_CHARS, MAX_ITEM_ID_CHARS, length_problem
from timeledger.caliper.core import check_item  # the core Caliper 1.2 rules
from timeledger.caliper.core.values import is_iri
from timeledger.caliper.errors import CaliperError, Problem, join_path
from timeledger.caliper.timeback import (
    CALIPER_CONTEXT,
    ActivityCompletedEvent,
    TimeSpentEvent,
    is_timeback_event,
    parse_timeback_event,
    run_id_of,
)
from timeledger.caliper.times import TimeFormatError, parse_utc

ENVELOPE_KEYS = ("sensor", "sendTime", "dataVersion", "data")
SUPPORTED_DATA_VERSIONS = (CALIPER_CONTEXT,)
DEFAULT_MAX_EVENTS = 1000
#: Objects and arrays nested deeper than this cannot be stored: orjson, the store's serializer,
#: refuses to write them (and the checks would exhaust Python's recursion limit on the way).
MAX_NESTING = 254


class MalformedJSON(CaliperError):
    """The body is not JSON at all."""


class UnsupportedDataVersion(CaliperError):
    """The envelope speaks a Caliper version this platform does not (HTTP 422)."""


class TooManyEvents(CaliperError):
    """More items in `data` than one envelope may carry."""


@dataclass(frozen=True, slots=True)
class TimebackRef:
    """What the store files a Timeback event under: its learner and its run."""

    learner_email: str  # lower-cased
    run_id: str | None


class ScreenedEvent(NamedTuple):
    """What the screen (screen.py) read of a plain Timeback event: the fields its log row
    keeps, and its JSON text as the log stores it."""

    event_id: str
    type: str
    action: str
    profile: str
    actor_id: str
    event_time: datetime
    text: str


class ScreenedItems(Sequence[dict[str, Any]]):
    """A screened envelope's items, parsed from their JSON text when one is read: the append
    stores the texts, and only a resend's comparison with what is stored reads an item."""

    __slots__ = ("_events",)

    def __init__(self, events: Sequence[ScreenedEvent]) -> None:
        self._events = events

    def __len__(self) -> int:
        return len(self._events)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [orjson.loads(event.text) for event in self._events[index]]
        parsed: dict[str, Any] = orjson.loads(self._events[index].text)
        return parsed

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ScreenedItems({list(self)!r})"


@dataclass(frozen=True, slots=True)
class Envelope:
    """A checked envelope: raw items kept as received; for each Timeback event (by index) its
    learner and run, and, when the full rules checked it, the parsed event. An envelope the
    screen read keeps `screened` (each event's row fields and text), and its `data` parses
    those texts when read."""

    sensor: str
    send_time: str
    data_version: str
    data: Sequence[dict[str, Any]]
    timeback: dict[int, ActivityCompletedEvent | TimeSpentEvent] = field(default_factory=dict)
    refs: dict[int, TimebackRef] = field(default_factory=dict)
    screened: Sequence[ScreenedEvent] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"sensor": self.sensor, "sendTime": self.send_time,
                "dataVersion": self.data_version, "data": list(self.data)}


def loads(raw: bytes | str) -> Any:
    """Decode JSON, turning a decode error into a CaliperError at the root path."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedJSON([Problem("", f"Malformed JSON: {exc}")]) from None


def parse_envelope(raw: bytes | str, max_events: int = DEFAULT_MAX_EVENTS) -> Envelope:
    """Parse and check a whole envelope; raises CaliperError (or a subclass) naming the path."""
    return check_envelope(loads(raw), max_events=max_events)


def _deepest_path(body: Any, limit: int) -> str | None:
    """The path of the first object or array nested more than `limit` levels deep, if any."""
    stack: list[tuple[Any, int, str]] = [(body, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > limit:
            return path
        children = value.items() if isinstance(value, dict) else enumerate(value)
        stack.extend((child, depth + 1, join_path(path, key)) for key, child in children
                     if isinstance(child, dict | list))
    return None


def _nul_path(body: Any) -> str | None:
    """The path of the first key or string holding U+0000, if any."""
    stack: list[tuple[Any, str]] = [(body, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path
        elif isinstance(value, dict):
            for key, child in value.items():
                if "\x00" in key:
                    return join_path(path, key.replace("\x00", "\\u0000"))
                stack.append((child, join_path(path, key)))
        elif isinstance(value, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(value))
    return None


def check_nesting(body: Any) -> None:
    """Refuse a body that cannot be stored, naming where: nested too deeply, or text holding
    U+0000, which PostgreSQL's text cannot keep (one C-speed pass when it is neither)."""
    try:
        dumped = orjson.dumps(body)
    except orjson.JSONEncodeError as exc:
        path = _deepest_path(body, MAX_NESTING) if isinstance(body, dict | list) else None
        if path is None:
            raise CaliperError([Problem("", f"Cannot be stored as JSON: {exc}")]) from None
        raise CaliperError([Problem(path, f"Nested more than {MAX_NESTING} levels of objects "
                                          "and arrays deep")]) from None
    if b"\\u0000" in dumped and (path := _nul_path(body)) is not None:
        raise CaliperError([Problem(path, "Text may not contain the NUL character (U+0000)")])


def check_envelope(body: Any, max_events: int = DEFAULT_MAX_EVENTS) -> Envelope:
    check_nesting(body)
    if not isinstance(body, dict):
        kind = "an array" if isinstance(body, list) else type(body).__name__
        expected = f"Expected a JSON object (a Caliper envelope), got {kind}"
        raise CaliperError([Problem("", expected)])
    problems = [Problem(key, "Required") for key in ENVELOPE_KEYS if key not in body]
    problems += [Problem(str(key), "Unknown envelope property; expected only "
                         + ", ".join(ENVELOPE_KEYS)) for key in body if key not in ENVELOPE_KEYS]
    if problems:
        raise CaliperError(problems)
    version = body["dataVersion"]
    if version not in SUPPORTED_DATA_VERSIONS:
        raise UnsupportedDataVersion([Problem(
            "dataVersion", f"Unsupported dataVersion {version!r}; expected {CALIPER_CONTEXT}")])
    sensor, send_time, data = body["sensor"], body["sendTime"], body["data"]
    if not is_iri(sensor):
        too_long = length_problem(sensor, MAX_IRI_CHARS) if isinstance(sensor, str) else None
        problems.append(Problem("sensor", "Expected an IRI identifying the sensor"
                                + ("" if too_long is None else f"; {too_long}")))
    try:
        parse_utc(send_time)
    except TimeFormatError as exc:
        problems.append(Problem("sendTime", str(exc)))
    if not isinstance(data, list) or not data:
        problems.append(Problem("data", "Expected a non-empty array of events or entities"))
        raise CaliperError(problems)
    if len(data) > max_events:
        raise TooManyEvents([Problem(
            "data", f"An envelope may carry at most {max_events} items; got {len(data)}")])
    timeback: dict[int, ActivityCompletedEvent | TimeSpentEvent] = {}
    for index, item in enumerate(data):
        path = f"data[{index}]"
        try:
            item_problems = check_item(item, path)
        except RecursionError:  # a backstop: MAX_NESTING keeps bodies well inside the limit
            item_problems = [Problem(path, "Nested too deeply to check")]
        ident = item.get("id") if isinstance(item, dict) else None
        if not item_problems and isinstance(ident, str):  # the log's key: see bounds.py
            too_long = length_problem(ident, MAX_ITEM_ID_CHARS)
            if too_long is not None:
                item_problems = [Problem(f"{path}.id", too_long)]
        if item_problems:
            problems += item_problems
            continue
        if is_timeback_event(item):
            try:
                timeback[index] = parse_timeback_event(item, path)
            except CaliperError as exc:
                problems += exc.problems
    if problems:
        raise CaliperError(problems)
    refs = {index: TimebackRef(event.actor.email.strip().lower(), run_id_of(event))
            for index, event in timeback.items()}
    return Envelope(sensor, send_time, version, data, timeback, refs)
