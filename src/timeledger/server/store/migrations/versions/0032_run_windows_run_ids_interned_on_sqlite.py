"""run_windows.run_id interned on SQLite."""
# Revision 0032, after 0031.
#
# On SQLite `run_windows.run_id` becomes INTEGER and holds the id of the run id's text in
# `interned_texts` (store/interned_texts.py), as events.run_id does since 0031: 1-3 bytes in the
# table's primary key and in ix_run_windows_end and ix_run_windows_start, where a uuid's 16 bytes
# (0021) took 17. The texts are interned by first appearance (the append interned most of them
# with their events already), in the form readers see (a 16-byte uuid as its canonical text).
# run_windows is WITHOUT ROWID (its primary key is the table), so it is copied, in batches along
# that key, and its indexes made again. The downgrade writes 0021's form back (a canonical uuid as
# its 16 bytes); the texts' rows stay (rows of interned_texts are only ever added). PostgreSQL
# keeps its text column.

from __future__ import annotations

import re
from typing import Any

from alembic import op

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

_BATCH = 10_000  # rows copied per statement
# run_windows.run_id as declared before and after (SQLite).
_DECLARED = ("VARCHAR(64) NOT NULL", "INTEGER NOT NULL")


def _run_id_text(value: Any) -> Any:
    """A run id as readers see it: 0021's 16 bytes as the uuid's canonical text."""
    if not isinstance(value, bytes):
        return value
    digits = value.hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _run_id_bytes(value: Any) -> Any:
    """0021's form: a canonical lower-case uuid as its 16 bytes, any other value as it is."""
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


def _copy_windows(declared: int, value: str) -> None:
    """Copy run_windows into a table whose run_id is declared `_DECLARED[declared]`, its value
    through `value` (an SQL expression of `run_windows.run_id`), then put the indexes back."""
    conn = op.get_bind()
    ddl = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'run_windows'"
    ).scalar_one()
    indexes = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'run_windows' "
        "AND sql IS NOT NULL ORDER BY name").scalars().all()
    # A renamed table's DDL names it in quotes: "run_windows".
    new_ddl, renamed = re.subn(r'^CREATE TABLE "?run_windows"? \(',
                               "CREATE TABLE run_windows_new (", ddl)
    if renamed != 1:
        raise RuntimeError(f"run_windows: unexpected DDL {ddl}")
    before = f"run_id {_DECLARED[1 - declared]},"
    if new_ddl.count(before) != 1:
        raise RuntimeError(f"run_windows.run_id is not declared {_DECLARED[1 - declared]}: {ddl}")
    op.execute(new_ddl.replace(before, f"run_id {_DECLARED[declared]},"))
    columns = [row[1] for row in conn.exec_driver_sql("PRAGMA table_info(run_windows)")]
    values = ", ".join(value if name == "run_id" else name for name in columns)
    copy = (f"INSERT INTO run_windows_new ({', '.join(columns)}) SELECT {values} "
            "FROM run_windows WHERE {after} (run_id, window_key) <= (?, ?)")
    # Batches along the primary key (the table: no rowid, and seq is in no index of its own).
    low: tuple[Any, ...] | None = None
    while True:
        after = "" if low is None else "(run_id, window_key) > (?, ?) AND"
        high = conn.exec_driver_sql(
            "SELECT run_id, window_key FROM run_windows "
            f"{'' if low is None else 'WHERE (run_id, window_key) > (?, ?)'} "
            "ORDER BY run_id, window_key LIMIT 1 OFFSET ?", (*(low or ()), _BATCH - 1)).first()
        if high is None:  # the rest, fewer than a batch
            high = conn.exec_driver_sql(
                "SELECT run_id, window_key FROM run_windows "
                "ORDER BY run_id DESC, window_key DESC LIMIT 1").first()
            if high is None or (low is not None and tuple(high) == low):
                break
        conn.exec_driver_sql(copy.format(after=after), (*(low or ()), *high))
        low = tuple(high)
    op.execute("DROP TABLE run_windows")
    op.execute("ALTER TABLE run_windows_new RENAME TO run_windows")
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
               "FROM run_windows GROUP BY run_id ORDER BY min(seq)")
    _copy_windows(1, "(SELECT id FROM interned_texts WHERE value = "
                     "run_id_text(run_windows.run_id))")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _register("run_id_bytes", _run_id_bytes)
    # A text written into the column by hand (not an id) stays as it is.
    _copy_windows(0, "run_id_bytes(CASE WHEN typeof(run_windows.run_id) = 'integer' THEN (SELECT "
                     "value FROM interned_texts WHERE id = run_windows.run_id) "
                     "ELSE run_windows.run_id END)")
