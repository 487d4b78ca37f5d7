"""events.sensor, actor_id and learner_email interned on SQLite."""
# Revision 0030, after 0029.
#
# A new table `interned_texts (id INTEGER PRIMARY KEY, value UNIQUE)` holds each text once; on
# SQLite the three columns become INTEGER and hold the id of their text's row
# (store/interned_texts.py), in the row and in ix_events_learner_seq. Sensors are interned first,
# so the few of them get the smallest ids. As in 0026, 0028 and 0029 the table is copied in
# batches of seqs and its indexes made again. The downgrade writes the texts back and drops the
# table. PostgreSQL keeps its text columns; the table is created there too, and stays empty.

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

_BATCH = 10_000  # rows copied per statement
# Each column as declared before and after (SQLite), in the order their texts are interned.
_COLUMNS = {"sensor": ("VARCHAR(2000) NOT NULL", "INTEGER NOT NULL"),
            "learner_email": ("VARCHAR(320)", "INTEGER"),
            "actor_id": ("VARCHAR(2000)", "INTEGER")}


def _copy_events(declared: int, value: str) -> None:
    """Copy events into a table whose interned columns are declared `_COLUMNS[...][declared]`,
    each of them through `value` (an SQL expression of the column named {name}), then put the
    indexes back."""
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
    for name, types in _COLUMNS.items():
        before, after = f"\t{name} {types[1 - declared]},", f"\t{name} {types[declared]},"
        if new_ddl.count(before) != 1:
            raise RuntimeError(f"events.{name} is not declared {types[1 - declared]}: {ddl}")
        new_ddl = new_ddl.replace(before, after)
    op.execute(new_ddl)
    columns = [row[1] for row in conn.exec_driver_sql("PRAGMA table_info(events)")]
    values = ", ".join(value.format(name=name) if name in _COLUMNS else name for name in columns)
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
    op.create_table(
        'interned_texts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
                  nullable=False),
        sa.Column('value', sa.String(length=2000), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('value'),
    )
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _COLUMNS:  # by first appearance
        op.execute(f"INSERT OR IGNORE INTO interned_texts (value) SELECT {name} FROM events "
                   f"WHERE {name} IS NOT NULL GROUP BY {name} ORDER BY min(seq)")
    _copy_events(1, "(SELECT id FROM interned_texts WHERE value = events.{name})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # A text written into the column by hand (not an id) stays as it is.
        _copy_events(0, "CASE WHEN typeof(events.{name}) = 'integer' THEN (SELECT value FROM "
                        "interned_texts WHERE id = events.{name}) ELSE events.{name} END")
    op.drop_table('interned_texts')
