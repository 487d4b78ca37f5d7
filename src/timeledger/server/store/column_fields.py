"""The parts of an event's JSON that its own columns repeat (id, eventTime, actor, run), or that
the rest of the body gives again (the generated collection's id, the items' dates): taken out
of a body before compaction packs it and put back when it is read, so a packed body holds only
what cannot be rebuilt. Each is taken out only when putting it back gives it exactly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import orjson

from timeledger.caliper.builders import generated_id
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
#: The bits of the fields above, which the row's columns give back.
COLUMN_BITS = (1 << len(_FIELDS)) - 1
#: `generated.id` was `caliper.builders.generated_id` of the event's `id` (as the SDK builds it).
GENERATED_ID = 1 << 6
#: Every 0 at an item's `endDate` in `generated.items` was the event's `eventTime`, and every 0 at
#: the `startDate` of the second item on was the first item's `startDate`. Set only when none of
#: those places held a 0 of its own.
ITEM_DATES = 1 << 7
#: The bits of the fields the rest of the body gives back, once the columns' fields are in.
BODY_BITS = GENERATED_ID | ITEM_DATES
_PLACEHOLDER = 0


def _is_placeholder(value: Any) -> bool:
    return type(value) is int and value == _PLACEHOLDER  # not False, not 0.0


def _parent(event: Any, path: tuple[str, ...]) -> dict[str, Any] | None:
    for key in path[:-1]:
        event = event.get(key) if isinstance(event, dict) else None
    return event if isinstance(event, dict) and path[-1] in event else None


def _generated(event: Any) -> dict[str, Any] | None:
    generated = event.get("generated") if isinstance(event, dict) else None
    return generated if isinstance(generated, dict) else None


def _date_places(event: Any) -> list[tuple[dict[str, Any], str, Any]]:
    """Each item date `ITEM_DATES` covers, as (item, key, the value it is rebuilt from)."""
    generated = _generated(event)
    items = None if generated is None else generated.get("items")
    if not isinstance(items, list) or not items:
        return []
    first = items[0] if isinstance(items[0], dict) else {}
    ended, started = event.get("eventTime"), first.get("startDate")
    places = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            if "endDate" in item:
                places.append((item, "endDate", ended))
            if index and "startDate" in item:
                places.append((item, "startDate", started))
    return places


def _take_out_from_body(event: Any) -> int:
    """The body's own repeats out (while the columns' fields are still in); their bits."""
    mask = 0
    generated = _generated(event)
    own = event.get("id") if generated is not None else None
    if isinstance(own, str) and generated is not None and generated.get("id") == generated_id(own):
        generated["id"] = _PLACEHOLDER
        mask |= GENERATED_ID
    places = _date_places(event)
    if not any(_is_placeholder(item[key]) for item, key, _ in places):
        for item, key, source in places:
            if isinstance(source, str) and item[key] == source:
                item[key] = _PLACEHOLDER
                mask |= ITEM_DATES
    return mask


def _put_back_into_body(mask: int, event: Any, event_id: str) -> None:
    if mask & GENERATED_ID:
        generated, own = _generated(event), event.get("id")
        if generated is None or "id" not in generated or not isinstance(own, str):
            raise ValueError(f"event {event_id}: its packed body lost generated.id or id")
        generated["id"] = generated_id(own)
    if mask & ITEM_DATES:
        for item, key, source in _date_places(event):
            if _is_placeholder(item[key]):
                if not isinstance(source, str):
                    raise ValueError(f"event {event_id}: its packed body lost the source of "
                                     f"generated.items[].{key}")
                item[key] = source


def take_out(text: bytes, row: EventColumns) -> tuple[int, bytes] | None:
    """The mask of the fields taken out and the JSON left, or None when nothing could be taken
    out or putting it back would not give `text` byte for byte.

    Each field is taken out only when it equals (as a string) what it is rebuilt from, so
    putting back rebuilds the same values in the same key order; orjson then writes them as
    `text` if `text` is orjson's own writing of them, which the append's bodies are."""
    event = orjson.loads(text)
    if orjson.dumps(event) != text:
        return None
    mask = _take_out_from_body(event)
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
    _put_back_into_body(mask, event, row.event_id)
    return orjson.dumps(event)
