"""Write a OneRoster line item or result record: insert, or replace the one with its sourcedId."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from timeledger.server.store.database import insert
from timeledger.server.store.gradebook_tables import written_line_items, written_results


def _put(conn: sa.Connection, table: sa.Table, row: Mapping[str, Any]) -> bool:
    """Insert `row` or replace the row with its sourced_id; True when it was new."""
    existed = conn.execute(sa.select(table.c.sourced_id).where(
        table.c.sourced_id == row["sourced_id"])).first() is not None
    stmt = insert(table, conn.dialect.name).values(**row)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["sourced_id"],
        set_={name: stmt.excluded[name] for name in row if name != "sourced_id"}))
    return not existed


def put_line_item(conn: sa.Connection, row: Mapping[str, Any]) -> bool:
    """Store a written line item (a row of gradebook_written_line_items); True if it was new."""
    return _put(conn, written_line_items, row)


def put_result(conn: sa.Connection, row: Mapping[str, Any]) -> bool:
    """Store a written result (a row of gradebook_written_results); True if it was new."""
    return _put(conn, written_results, row)
