"""Packed bodies may leave out what the rest of the body gives (generated.id, items' dates)."""
# Revision 0033, after 0032.
#
# Compaction may now also leave out of a packed body the generated collection's id when it is
# caliper.builders.generated_id of the event's id, and items' dates equal to eventTime or to the
# first item's startDate (store/column_fields.py). Such a body starts with the byte 0x02, which
# older code cannot read. The upgrade changes no rows (rows packed before read as they are); the
# revision is there so an older platform refuses the store at start instead of failing on those
# rows. The downgrade puts those fields back and packs each such body again in 0x01's form (the
# mask of the columns' fields, then a frame with the same dictionary), written here with
# zstandard alone, as 0018 does, since the code that packed it may be gone.

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
import zstandard
from alembic import op

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None

_TAKEN_OUT, _WITH_BODY_FIELDS = 0x01, 0x02  # store/event_bodies.py's lead bytes
_COLUMN_BITS, _GENERATED_ID, _ITEM_DATES = 0x3F, 0x40, 0x80  # store/column_fields.py's mask
_EVENT_ID, _EVENT_TIME = 0x01, 0x02
_LEVEL = 3  # CompactionPolicy.level's default
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def upgrade() -> None:
    pass


def downgrade() -> None:
    conn = op.get_bind()
    dictionaries: dict[int, zstandard.ZstdCompressionDict] = {
        dict_id: zstandard.ZstdCompressionDict(bytes(data)) for dict_id, data in conn.execute(
            sa.text("SELECT id, data FROM compression_dictionaries"))}
    last = 0
    while True:
        rows = conn.execute(sa.text(
            "SELECT seq, packed, event_id, event_time FROM events "
            "WHERE seq > :last AND packed IS NOT NULL ORDER BY seq LIMIT 1000"),
            {"last": last}).all()
        if not rows:
            return
        repacked = [{"seq": row.seq, "packed": _repacked(bytes(row.packed), row, dictionaries)}
                    for row in rows if bytes(row.packed)[:1] == bytes((_WITH_BODY_FIELDS,))]
        if repacked:
            conn.execute(sa.text("UPDATE events SET packed = :packed WHERE seq = :seq"),
                         repacked)
        last = rows[-1].seq


def _repacked(packed: bytes, row: Any,
              dictionaries: dict[int, zstandard.ZstdCompressionDict]) -> bytes:
    mask, frame = packed[1], packed[2:]
    dictionary = dictionaries[zstandard.get_frame_parameters(frame).dict_id]
    event = orjson.loads(zstandard.ZstdDecompressor(dict_data=dictionary).decompress(frame))
    own_id = _event_id_text(row.event_id) if mask & _EVENT_ID else event["id"]
    event_time = _utc_text(row.event_time) if mask & _EVENT_TIME else event["eventTime"]
    generated = event.get("generated")
    if mask & _GENERATED_ID:
        digest = uuid.uuid5(uuid.NAMESPACE_URL, f"{own_id}|generated")
        generated["id"] = f"urn:uuid:{digest}"
    if mask & _ITEM_DATES:
        items = generated["items"]
        first = items[0] if isinstance(items[0], dict) else {}
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            if _is_zero(item.get("endDate")):
                item["endDate"] = event_time
            if index and _is_zero(item.get("startDate")):
                item["startDate"] = first["startDate"]
    packer = zstandard.ZstdCompressor(level=_LEVEL, dict_data=dictionary,
                                      write_content_size=True, write_dict_id=True,
                                      write_checksum=False)
    return bytes((_TAKEN_OUT, mask & _COLUMN_BITS)) + packer.compress(orjson.dumps(event))


def _is_zero(value: Any) -> bool:
    return type(value) is int and value == 0


def _event_id_text(value: Any) -> str:
    """events.event_id as readers see it: on SQLite a canonical urn:uuid is its 16 bytes (0028)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return f"urn:uuid:{uuid.UUID(bytes=bytes(value))}"
    return str(value)


def _utc_text(value: Any) -> str:
    """eventTime as the column gives it back: `2025-01-15T10:05:00.000Z` (integer microseconds
    on SQLite since 0026, a timestamptz on PostgreSQL)."""
    moment = _EPOCH + timedelta(microseconds=value) if isinstance(value, int) else value
    moment = moment.astimezone(UTC)
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
            f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z")
