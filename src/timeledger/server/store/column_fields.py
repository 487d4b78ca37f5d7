"""The parts of an event's JSON that its own columns repeat (id, eventTime, actor, run): taken
out of a body before compaction packs it and put back when it is read, so a packed body holds
only what the row cannot give. Each is taken out only when the column gives it back exactly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import orjson

from timeledger.caliper.times import format_utc


class EventColumns(Protocol):
    @property
    def event_id(self) -> str: ...

    @property
    def event_time(self) -> Any: ...

    @property
    def actor_id(self) -> str | None: ...

    @property
    def learner_email(self) -> str | None: ...

    @property
    def run_id(self) -> str | None: ...


def _run_urn(row: EventColumns) -> str | None:
    return None if row.run_id is None else f"urn:uuid:{row.run_id}"


# Bit i of a packed body's mask says the i-th field was taken out (left as 0 in the JSON).
_FIELDS: tuple[tuple[tuple[str, ...], Callable[[EventColumns], Any]], ...] = (
    (("id",), lambda row: row.event_id),
    (("eventTime",), lambda row: None if row.event_time is None else format_utc(row.event_time)),
    (("actor", "id"), lambda row: row.actor_id),
    (("actor", "email"), lambda row: row.learner_email),
    (("extensions", "runId"), lambda row: row.run_id),
    (("session",), _run_urn),
)
_PLACEHOLDER = 0


def _parent(event: Any, path: tuple[str, ...]) -> dict[str, Any] | None:
    for key in path[:-1]:
        event = event.get(key) if isinstance(event, dict) else None
    return event if isinstance(event, dict) and path[-1] in event else None


def take_out(text: bytes, row: EventColumns) -> tuple[int, bytes] | None:
    """The mask of the fields taken out and the JSON left, or None when nothing could be taken
    out or putting it back would not give `text` byte for byte.

    Each field is taken out only when it equals (as a string) what its column gives, so putting
    back rebuilds the same values in the same key order; orjson then writes them as `text` if
    `text` is orjson's own writing of them, which the append's bodies are."""
    event = orjson.loads(text)
    if orjson.dumps(event) != text:
        return None
    mask = 0
    for bit, (path, column) in enumerate(_FIELDS):
        parent = _parent(event, path)
        if parent is None or not isinstance(parent[path[-1]], str):
            continue
        if parent[path[-1]] == column(row):
            parent[path[-1]] = _PLACEHOLDER
            mask |= 1 << bit
    if not mask:
        return None
    return mask, orjson.dumps(event)


def put_back(mask: int, left: bytes, row: EventColumns) -> bytes:
    """The JSON text `take_out` was given."""
    event = orjson.loads(left)
    for bit, (path, column) in enumerate(_FIELDS):
        if mask & (1 << bit):
            parent = _parent(event, path)
            if parent is None:
                raise ValueError(f"event {row.event_id}: its packed body lost {'.'.join(path)}")
            parent[path[-1]] = column(row)
    return orjson.dumps(event)
