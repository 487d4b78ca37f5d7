"""events.event_id as 16 bytes on SQLite when it is a urn:uuid."""
# Revision 0028, after 0027.
#
# An event id `urn:uuid:<uuid>` in the canonical lower-case form is stored on SQLite as the
# uuid's 16 bytes (store/compact_keys.py: UuidText; 17 bytes in the row and in the unique index
# where the text took 46); any other id stays text. The declared type does not change, so the
# rows are rewritten in place, in batches of seqs. A blob never equals a text, and two uuids
# have two different byte strings, so the unique index holds throughout. The pages this frees
# stay in the file until new rows take them (or a VACUUM). PostgreSQL is unchanged.

from __future__ import annotations

import uuid
from typing import Any

from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

_PREFIX = "urn:uuid:"
_BATCH = 10_000  # rows rewritten per statement


def _to_bytes(value: Any) -> Any:
    """(Written here, not imported: the code that stores them may change.)"""
    if not isinstance(value, str) or not value.startswith(_PREFIX):
        return value
    text = value[len(_PREFIX):]
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return value
    return parsed.bytes if len(text) == 36 and str(parsed) == text else value


def _to_text(value: Any) -> Any:
    return _PREFIX + str(uuid.UUID(bytes=value)) if isinstance(value, bytes) else value


def _rewrite(convert: Any, stored_as: str) -> None:
    """Each event id stored as `stored_as` (SQLite's typeof) through `convert`."""
    conn = op.get_bind()
    conn.connection.driver_connection.create_function(  # type: ignore[union-attr]
        "converted_id", 1, convert, deterministic=True)
    first, last = conn.exec_driver_sql(
        "SELECT coalesce(min(seq), 1) - 1, coalesce(max(seq), 0) FROM events").one()
    for low in range(first, last, _BATCH):
        conn.exec_driver_sql(
            "UPDATE events SET event_id = converted_id(event_id) "
            "WHERE seq > ? AND seq <= ? AND typeof(event_id) = ?", (low, low + _BATCH, stored_as))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite(_to_bytes, "text")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite(_to_text, "blob")
