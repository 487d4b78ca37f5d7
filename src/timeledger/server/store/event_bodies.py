"""An event's stored JSON text, from a row in text or a compacted one: what every reader calls.

Select `BODY_COLUMNS` (or the whole `events` table) and pass the row to `event_body`."""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import orjson
import sqlalchemy as sa

from timeledger.server.store import compression_dictionaries
from timeledger.server.store.schema import events

BODY_COLUMNS = (events.c.body, events.c.packed)
#: `body`, `body_hash` and `job_id` of a compacted row (store/compaction.py).
COMPACTED = ""


class StoredBody(Protocol):
    @property
    def body(self) -> str: ...

    @property
    def packed(self) -> bytes | None: ...


def event_body(conn: sa.Connection, row: StoredBody) -> str:
    """The JSON text the event was stored with, byte for byte."""
    if row.packed is None:
        return row.body
    return compression_dictionaries.unpack(conn, bytes(row.packed)).decode()


def event_json(conn: sa.Connection, row: StoredBody) -> Any:
    """The stored event, parsed."""
    if row.packed is None:
        return orjson.loads(row.body)
    return orjson.loads(compression_dictionaries.unpack(conn, bytes(row.packed)))


def content_digest(item: Any) -> str:
    """An event's `body_hash`: a digest of its content that ignores key order and whitespace.
    Compaction drops the stored one; the append computes it from the body when an id comes
    again (store/event_appends.py)."""
    return hashlib.sha256(orjson.dumps(item, option=orjson.OPT_SORT_KEYS)).hexdigest()
