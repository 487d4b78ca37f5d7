"""Which PostgreSQL server processes serve an API's loop-side reads (store/loop_reads.py)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.server.store.loop_reads import APPLICATION_NAME


def loop_read_backends(engine: Engine) -> list[int]:
    """The pids of the connections loop readers opened to the engine's database."""
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = :name "
            "AND datname = current_database()"), {"name": APPLICATION_NAME}).scalars())
