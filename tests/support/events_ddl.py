"""The `events` table's SQLite DDL as a migration left it, for tests that a migration's copy of the
table and its indexes comes back exactly as it was declared."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def events_ddl(engine: Engine) -> dict[str, str | None]:
    """Each of `events`' objects (table, indexes) by name with its SQL; a renamed table's DDL
    names it in quotes, which is read as the plain name."""
    with engine.connect() as conn:
        return {name: sql.replace('"events"', "events") if sql else sql
                for name, sql in conn.execute(sa.text(
                    "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'events'"))}
