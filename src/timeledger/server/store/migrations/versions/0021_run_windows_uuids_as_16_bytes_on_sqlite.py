"""run_windows' run and event ids as 16 bytes on SQLite."""
# Revision 0021, after 0020.
#
# run_windows.run_id (a bare uuid), event_id and overlap_event_id (`urn:uuid:<uuid>`) are stored
# on SQLite as the uuid's 16 bytes when they are in that canonical lower-case form, in the row and
# in ix_run_windows_end (store/compact_keys.py: UuidText); any other value stays text. The
# declared types do not change. PostgreSQL is unchanged.

from __future__ import annotations

import uuid
from typing import Any

from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

_COLUMNS = ("run_id", "window_key", "seq", "event_id", "event_time", "start_at", "end_at",
            "bounds_reported", "active_ms", "inactive_ms", "other_ms", "overlap_event_id")
_PREFIXES = {"run_id": "", "event_id": "urn:uuid:", "overlap_event_id": "urn:uuid:"}


def _to_bytes(value: Any, prefix: str) -> Any:
    """(Written here, not imported: the code that stores them may change.)"""
    if not isinstance(value, str) or not value.startswith(prefix):
        return value
    text = value[len(prefix):]
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return value
    return parsed.bytes if len(text) == 36 and str(parsed) == text else value


def _to_text(value: Any, prefix: str) -> Any:
    return prefix + str(uuid.UUID(bytes=value)) if isinstance(value, bytes) else value


def _rewrite(convert: Any) -> None:
    """Copy run_windows into a new table of the same definition, the ids through `convert`."""
    conn = op.get_bind()
    conn.connection.driver_connection.create_function(  # type: ignore[union-attr]
        "converted_id", 2, convert, deterministic=True)
    ddl = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'run_windows'").scalar_one()
    op.execute(ddl.replace("run_windows", "run_windows_new", 1))
    values = ", ".join(f"converted_id({name}, '{_PREFIXES[name]}')" if name in _PREFIXES
                       else name for name in _COLUMNS)
    op.execute(f"INSERT INTO run_windows_new ({', '.join(_COLUMNS)}) "
               f"SELECT {values} FROM run_windows")
    op.drop_index('ix_run_windows_end', table_name='run_windows')
    op.drop_table('run_windows')
    op.rename_table('run_windows_new', 'run_windows')
    op.create_index('ix_run_windows_end', 'run_windows', ['run_id', 'end_at'], unique=False)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite(_to_bytes)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite(_to_text)
