"""An event's stored JSON text, from a row in text or a compacted one: what every reader calls.

Select `BODY_COLUMNS` (or the whole `events` table) and pass the row to `event_body`."""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
import zstandard

from timeledger.server.store import compression_dictionaries
from timeledger.server.store.column_fields import (
    BODY_BITS,
    COLUMN_BITS,
    EventColumns,
    put_back,
    take_out,
)
from timeledger.server.store.schema import events

#: A packed body may leave out what the row's own columns give (store/column_fields.py).
BODY_COLUMNS = (events.c.body, events.c.packed, events.c.event_id, events.c.event_time,
                events.c.actor_id, events.c.learner_email, events.c.run_id)
#: `body` and `job_id` of a compacted row (store/compaction.py).
COMPACTED = ""
#: `body_hash` of a row that keeps no digest: every row appended now, and every compacted row
#: (rows appended before kept theirs). The append makes the digest from the stored body only
#: when the row's id comes again (store/event_appends.py), which is rare: hashing every event
#: on the request path cost about 5 us per event for a value that is almost never read.
DIGEST_NOT_STORED = ""
#: `packed` is a zstd frame of the body (it starts with zstd's magic number, 0x28 ...), or this
#: byte, the mask of the fields taken out (column_fields.take_out) and a frame of what was left,
#: when only fields the columns give were taken out ...
TAKEN_OUT = 0x01
#: ... or this byte when fields the rest of the body gives were taken out too (since migration
#: 0033, whose downgrade packs them again under TAKEN_OUT: docs/pipeline.md, "Storage compaction").
TAKEN_OUT_WITH_BODY_FIELDS = 0x02
_MASK_BITS = {TAKEN_OUT: COLUMN_BITS, TAKEN_OUT_WITH_BODY_FIELDS: COLUMN_BITS | BODY_BITS}


class StoredBody(EventColumns, Protocol):
    @property
    def body(self) -> str: ...

    @property
    def packed(self) -> bytes | None: ...


def pack(packer: zstandard.ZstdCompressor, text: bytes, row: EventColumns) -> bytes:
    """`packed` for a body: what its columns do not give, in a frame."""
    taken = take_out(text, row)
    if taken is None:
        return packer.compress(text)
    mask, left = taken
    lead = TAKEN_OUT_WITH_BODY_FIELDS if mask & BODY_BITS else TAKEN_OUT
    return bytes((lead, mask)) + packer.compress(left)


def packing_sample(text: bytes, row: EventColumns) -> bytes:
    """What `pack` would put in a frame: the JSON left once the columns' fields are out."""
    taken = take_out(text, row)
    return text if taken is None else taken[1]


def _unpacked(conn: sa.Connection, row: StoredBody) -> bytes:
    packed = bytes(row.packed or b"")
    known = _MASK_BITS.get(packed[0]) if packed else None
    if known is None:
        return compression_dictionaries.unpack(conn, packed)
    if packed[1] & ~known:
        raise ValueError(f"event {row.event_id}: its packed body's mask {packed[1]:#04x} has "
                         f"bits its lead byte {packed[0]:#04x} does not allow")
    return put_back(packed[1], compression_dictionaries.unpack(conn, packed[2:]), row)


def event_body(conn: sa.Connection, row: StoredBody) -> str:
    """The JSON text the event was stored with, byte for byte."""
    if row.packed is None:
        return row.body
    return _unpacked(conn, row).decode()


def event_json(conn: sa.Connection, row: StoredBody) -> Any:
    """The stored event, parsed."""
    if row.packed is None:
        return orjson.loads(row.body)
    return orjson.loads(_unpacked(conn, row))


def content_digest(item: Any) -> str:
    """A digest of an event's content that ignores key order and whitespace: what tells a resend
    (`duplicate`) from another event under a taken id (`conflict`). Rows appended before
    `DIGEST_NOT_STORED` keep theirs in `body_hash`."""
    return hashlib.sha256(orjson.dumps(item, option=orjson.OPT_SORT_KEYS)).hexdigest()
