"""events.run_id interned on SQLite."""
# Revision 0031, after 0030.
#
# On SQLite `events.run_id` becomes INTEGER and holds the id of the run id's text in
# `interned_texts` (store/interned_texts.py), as sensor, actor_id and learner_email do since 0030:
# 1-3 bytes in the row and in ix_events_run, where a uuid's 16 bytes (0029) took 17. The texts
# are interned by first appearance, in the form readers see (a 16-byte uuid as its canonical
# text). As in 0026 and 0028-0030 the table is copied in batches of seqs and its indexes made
# again. The downgrade writes the run ids back (a canonical uuid as its 16 bytes); the texts'
# rows stay (rows of interned_texts are only ever added). PostgreSQL keeps its text column.

from __future__ import annotations

import re
from typing import Any

from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

_BATCH = 10_000  # rows copied per statement
# events.run_id as declared before and after (SQLite).
_DECLARED = ("VARCHAR(64)", "INTEGER")


def _run_id_text(value: Any) -> Any:
    """A run id as readers see it: 0029's 16 bytes as the uuid's canonical text."""
    if not isinstance(value, bytes):
        return value
    digits = value.hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _run_id_bytes(value: Any) -> Any:
    """0029's form: a canonical lower-case uuid as its 16 bytes, any other value as it is."""
    if not isinstance(value, str) or len(value) != 36:
        return value
    digits = value.replace("-", "")
    if len(digits) != 32 or [value[i] for i in (8, 13, 18, 23)] != ["-"] * 4:
        return value
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        return value
    return raw if raw.hex() == digits else value


def _copy_events(declared: int, value: str) -> None:
    """Copy events into a table whose run_id is declared `_DECLARED[declared]`, its value
    through `value` (an SQL expression of `events.run_id`), then put the indexes back."""
    conn = op.get_bind()
    ddl = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").scalar_one()
    indexes = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
        "AND sql IS NOT NULL ORDER BY name").scalars().all()
    # A renamed table's DDL names it in quotes: "events".
    new_ddl, renamed = re.subn(r'^CREATE TABLE "?events"? \(', "CREATE TABLE events_new (", ddl)
    if renamed != 1:
        raise RuntimeError(f"events: unexpected DDL {ddl}")
    before, after = f"\trun_id {_DECLARED[1 - declared]},", f"\trun_id {_DECLARED[declared]},"
    if new_ddl.count(before) != 1:
        raise RuntimeError(f"events.run_id is not declared {_DECLARED[1 - declared]}: {ddl}")
    op.execute(new_ddl.replace(before, after))
    columns = [row[1] for row in conn.exec_driver_sql("PRAGMA table_info(events)")]
    values = ", ".join(value if name == "run_id" else name for name in columns)
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


def _register(name: str, function: Any) -> None:
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    driver.create_function(name, 1, function, deterministic=True)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _register("run_id_text", _run_id_text)
    op.execute("INSERT OR IGNORE INTO interned_texts (value) SELECT run_id_text(run_id) "
               "FROM events WHERE run_id IS NOT NULL GROUP BY run_id ORDER BY min(seq)")
    _copy_events(1, "(SELECT id FROM interned_texts WHERE value = run_id_text(events.run_id))")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _register("run_id_bytes", _run_id_bytes)
    # A text written into the column by hand (not an id) stays as it is.
    _copy_events(0, "run_id_bytes(CASE WHEN typeof(events.run_id) = 'integer' THEN (SELECT "
                    "value FROM interned_texts WHERE id = events.run_id) ELSE events.run_id END)")
