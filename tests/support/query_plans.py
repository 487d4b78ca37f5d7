"""What SQL a read runs, and how the database would run it: for tests that a page of a list walks
an index from its cursor instead of reading or sorting a table whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.server.store.database import is_sqlite


def recorded_statements(engine: Engine, read: Callable[[], object]) -> list[tuple[str, Any]]:
    """Every statement (with its parameters) the engine runs while `read()` runs."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
               _many: bool) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        read()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return seen


def plan_steps(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """SQLite's `EXPLAIN QUERY PLAN` steps; on PostgreSQL each plan node's type and index, with
    sequential scans, bitmap scans and sorts switched off, so the plan shows what an index can
    serve whatever a small test table's statistics would make cheapest."""
    with engine.connect() as conn:
        if is_sqlite(engine):
            return [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                            parameters)]
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            conn.exec_driver_sql(f"SET LOCAL {setting} = off")
        [plan] = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement,
                                      parameters).scalar_one()
    steps: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        steps.append(f"{node['Node Type']} {node.get('Index Name', '')}".strip())
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan["Plan"])
    return steps


def plans_of_statements_holding(engine: Engine, read: Callable[[sa.Connection], object],
                                text: str) -> list[str]:
    """The plan (its steps joined by ' | ') of each statement `read(conn)` runs whose SQL holds
    `text`, say the condition a filter adds; at least one must."""
    with engine.connect() as conn:
        statements = [(statement, parameters) for statement, parameters
                      in recorded_statements(engine, lambda: read(conn)) if text in statement]
    assert statements, f"no statement holds {text!r}"
    return [" | ".join(plan_steps(engine, statement, parameters))
            for statement, parameters in statements]
