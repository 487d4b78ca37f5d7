"""events.event_id as 16 bytes on SQLite when it is a urn:uuid."""
# Revision 0028, after 0027.
#
# An event id `urn:uuid:<uuid>` in the canonical lower-case form is stored on SQLite as the
# uuid's 16 bytes (store/compact_keys.py: UuidText; 17 bytes in the row and in the unique index
# where the text took 46); any other id stays text. The declared type does not change. The
# table is copied (in batches of seqs) rather than updated in place: rows shrunk in place would
# leave every page of the log part empty, and appends never come back to them. A blob never
# equals a text, and two uuids have two different byte strings, so the unique index holds.
# PostgreSQL is unchanged.

from __future__ import annotations

import re
import uuid
from typing import Any

from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

_PREFIX = "urn:uuid:"
_BATCH = 10_000  # rows copied per statement


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


def _copy_events(convert: Any) -> None:
    """Copy events into a table of the same definition, each event id through `convert`, then
    put the indexes back."""
    conn = op.get_bind()
    conn.connection.driver_connection.create_function(  # type: ignore[union-attr]
        "converted_id", 1, convert, deterministic=True)
    ddl = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").scalar_one()
    indexes = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
        "AND sql IS NOT NULL ORDER BY name").scalars().all()
    # A renamed table's DDL names it in quotes: "events".
    new_ddl, renamed = re.subn(r'^CREATE TABLE "?events"? \(', "CREATE TABLE events_new (", ddl)
    if renamed != 1:
        raise RuntimeError(f"events: unexpected DDL {ddl}")
    op.execute(new_ddl)
    columns = [row[1] for row in conn.exec_driver_sql("PRAGMA table_info(events)")]
    values = ", ".join("converted_id(event_id)" if name == "event_id" else name
                       for name in columns)
    first, last = conn.exec_driver_sql(
        "SELECT coalesce(min(seq), 1) - 1, coalesce(max(seq), 0) FROM events").one()
    for low in range(first, last, _BATCH):
        conn.exec_driver_sql(
            f"INSERT INTO events_new ({', '.join(columns)}) SELECT {values} FROM events "
            "WHERE seq > ? AND seq <= ?", (low, low + _BATCH))
    op.execute("DROP TABLE events")
    op.execute("ALTER TABLE events_new RENAME TO events")
    for index in indexes:
        op.execute(index)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _copy_events(_to_bytes)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _copy_events(_to_text)
