"""events.event_time and received_at as integer microseconds on SQLite."""
# Revision 0026, after 0025.
#
# On SQLite both columns were UtcDateTime's text ('YYYY-MM-DD HH:MM:SS.ffffff', naive UTC: 27
# bytes in the record); they become integer microseconds since 1970 (schema.UtcMicroseconds: at
# most 8), in the row and in ix_events_time. SQLite cannot change a column's declared type, so
# the table is copied into one declared BIGINT, in batches of seqs, and its indexes are made
# again as they were. Every value is converted (the rows keep their seq); a time that is not in
# UtcDateTime's form stops the upgrade, which then changes nothing. PostgreSQL keeps timestamptz.

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

_TIMES = ("event_time", "received_at")
_BATCH = 10_000  # rows copied per statement
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _to_microseconds(value: Any) -> Any:
    """(Written here, not imported: the code that stores them may change.)"""
    if not isinstance(value, str):
        return value
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        raise ValueError(f"events: the time {value!r} is not naive UTC as UtcDateTime wrote it")
    return (moment.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND


def _to_text(value: Any) -> Any:
    if not isinstance(value, int):
        return value
    return (_EPOCH + value * _MICROSECOND).replace(tzinfo=None).isoformat(" ", "microseconds")


def _copy_events(declared_before: str, declared_after: str, convert: Callable[[Any], Any]) -> None:
    """Copy events into a table whose time columns are declared `declared_after`, each time
    through `convert`, then put the indexes back."""
    conn = op.get_bind()
    conn.connection.driver_connection.create_function(  # type: ignore[union-attr]
        "converted_time", 1, convert, deterministic=True)
    ddl = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").scalar_one()
    indexes = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
        "AND sql IS NOT NULL ORDER BY name").scalars().all()
    # A renamed table's DDL names it in quotes: "events".
    new_ddl, renamed = re.subn(r'^CREATE TABLE "?events"? \(', "CREATE TABLE events_new (", ddl)
    if renamed != 1:
        raise RuntimeError(f"events: unexpected DDL {ddl}")
    for name in _TIMES:
        before, after = f"\t{name} {declared_before}", f"\t{name} {declared_after}"
        if new_ddl.count(before) != 1:
            raise RuntimeError(f"events.{name} is not declared {declared_before}: {ddl}")
        new_ddl = new_ddl.replace(before, after)
    op.execute(new_ddl)
    columns = [row[1] for row in conn.exec_driver_sql("PRAGMA table_info(events)")]
    values = ", ".join(f"converted_time({name})" if name in _TIMES else name for name in columns)
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
        _copy_events("DATETIME", "BIGINT", _to_microseconds)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _copy_events("BIGINT", "DATETIME", _to_text)
