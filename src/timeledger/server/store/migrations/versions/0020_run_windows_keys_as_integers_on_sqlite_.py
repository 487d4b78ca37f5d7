"""run_windows keys as integers on SQLite; ix_events_partition empty on SQLite."""
# Revision 0020, after 0019.
#
# run_windows.window_key (`s:<startDate>` or `t:<eventTime>`, as format_utc writes them) is an
# integer on SQLite (projection_tables.WindowKey: milliseconds since 1970 times 2, plus 1 for
# `s:`), in the row and in ix_run_windows_end; a key in any other form stays text.
#
# On SQLite the projector reads the log by `seq` (one partition) and `xact` is NULL, so no query
# uses ix_events_partition there: it keeps its definition but indexes only rows with an `xact`,
# that is none (one B-tree insert less per append). PostgreSQL is unchanged.

from __future__ import annotations

from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

_COLUMNS = ("run_id", "window_key", "seq", "event_id", "event_time", "start_at", "end_at",
            "bounds_reported", "active_ms", "inactive_ms", "other_ms", "overlap_event_id")

# A key in format_utc's form: 's:' or 't:', 'YYYY-MM-DDTHH:MM:SS', '.', three digits, 'Z'.
_TEXT_TO_NUMBER = """CASE WHEN length(KEY) = 26 AND substr(KEY, 1, 2) IN ('s:', 't:')
    AND substr(KEY, 22, 1) = '.' AND substr(KEY, 26, 1) = 'Z'
    AND substr(KEY, 23, 3) GLOB '[0-9][0-9][0-9]'
    AND strftime('%Y-%m-%dT%H:%M:%S', substr(KEY, 3, 19)) = substr(KEY, 3, 19)
  THEN (CAST(strftime('%s', substr(KEY, 3, 19)) AS INTEGER) * 1000
        + CAST(substr(KEY, 23, 3) AS INTEGER)) * 2 + (substr(KEY, 1, 1) = 's')
  ELSE KEY END"""
# ms = (KEY - (KEY & 1)) / 2 exactly; seconds and milliseconds floored for times before 1970 too.
_MS = "((KEY - (KEY & 1)) / 2)"
_NUMBER_TO_TEXT = f"""CASE WHEN typeof(KEY) = 'integer'
  THEN (CASE KEY & 1 WHEN 1 THEN 's:' ELSE 't:' END)
       || strftime('%Y-%m-%dT%H:%M:%S', ({_MS} - (({_MS} % 1000) + 1000) % 1000) / 1000,
                   'unixepoch')
       || printf('.%03dZ', (({_MS} % 1000) + 1000) % 1000)
  ELSE KEY END"""


def _rebuild_run_windows(key_type: str, convert: str) -> None:
    op.execute(f"""
        CREATE TABLE run_windows_new (
            run_id VARCHAR(64) NOT NULL,
            window_key {key_type} NOT NULL,
            seq BIGINT NOT NULL,
            event_id VARCHAR(200) NOT NULL,
            event_time BIGINT NOT NULL,
            start_at BIGINT NOT NULL,
            end_at BIGINT NOT NULL,
            bounds_reported BOOLEAN NOT NULL,
            active_ms BIGINT NOT NULL,
            inactive_ms BIGINT NOT NULL,
            other_ms BIGINT NOT NULL,
            overlap_event_id VARCHAR(200),
            PRIMARY KEY (run_id, window_key)
        ) WITHOUT ROWID""")
    values = ", ".join(convert.replace("KEY", "window_key") if name == "window_key" else name
                       for name in _COLUMNS)
    op.execute(f"INSERT INTO run_windows_new ({', '.join(_COLUMNS)}) "
               f"SELECT {values} FROM run_windows")
    op.drop_index('ix_run_windows_end', table_name='run_windows')
    op.drop_table('run_windows')
    op.rename_table('run_windows_new', 'run_windows')
    op.create_index('ix_run_windows_end', 'run_windows', ['run_id', 'end_at'], unique=False)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild_run_windows("BIGINT", _TEXT_TO_NUMBER)
    op.drop_index('ix_events_partition', table_name='events')
    op.execute("CREATE INDEX ix_events_partition ON events (partition, xact, seq) "
               "WHERE partition IS NOT NULL AND xact IS NOT NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index('ix_events_partition', table_name='events')
    op.execute("CREATE INDEX ix_events_partition ON events (partition, xact, seq) "
               "WHERE partition IS NOT NULL")
    _rebuild_run_windows("VARCHAR(40)", _NUMBER_TO_TEXT)
