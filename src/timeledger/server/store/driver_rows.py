"""Hot inserts through the driver's `executemany`: a short statement prepared once, plain tuples.

SQLAlchemy Core runs every parameter of every row through its type processors, and on PostgreSQL
psycopg parses the long multi-row statement Core builds for each batch again; for the log's append
and the projector's per-event rows that is most of the cost. Values are converted here exactly as
the table's types would store them, so readers going through SQLAlchemy see the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from timeledger.server.store.schema import UtcDateTime


def sql_marks(conn: sa.Connection, count: int) -> str:
    """`?, ?, ...` or `%s, %s, ...` for the connection's driver."""
    return ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * count)


def driver_params(conn: sa.Connection, rows: Sequence[dict[str, Any]],
                  columns: Sequence[str], table: sa.Table | None = None) -> list[tuple[Any, ...]]:
    """Each row's values for `columns`, as the store's types write them on this dialect. Give
    `table` when any of its columns has a type of the store's own other than UtcDateTime
    (UtcMicroseconds, WindowKey); without it every datetime is taken for UtcDateTime."""
    if conn.dialect.name != "sqlite":
        return [tuple(row[name] for name in columns) for row in rows]
    times: dict[datetime, str] = {}  # a batch's rows share many times
    typed: dict[int, sa.TypeDecorator[Any]] = {}
    for index, name in enumerate(columns):
        kind = table.c[name].type if table is not None else None
        if isinstance(kind, sa.TypeDecorator) and not isinstance(kind, UtcDateTime):
            typed[index] = kind
    if typed:
        dialect = conn.dialect
        return [tuple(typed[index].process_bind_param(row[name], dialect) if index in typed
                      else _sqlite_value(row[name], times) for index, name in enumerate(columns))
                for row in rows]
    return [tuple(_sqlite_value(row[name], times) for name in columns) for row in rows]


def _sqlite_value(value: Any, times: dict[datetime, str]) -> Any:
    """Datetimes as UtcDateTime writes them on SQLite (naive UTC, microseconds); the rest as is."""
    if not isinstance(value, datetime):
        return value
    text = times.get(value)
    if text is None:
        text = times[value] = value.astimezone(UTC).replace(tzinfo=None).isoformat(
            " ", "microseconds")
    return text


def execute_many(conn: sa.Connection, sql: str, params: Sequence[tuple[Any, ...]],
                 returning: bool = False) -> list[tuple[Any, ...]]:
    """Run `sql` once per parameter tuple on the connection's own driver cursor; with
    `returning` (PostgreSQL only), the rows every execution returned."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    returned: list[tuple[Any, ...]] = []
    try:
        if not returning:
            cursor.executemany(sql, params)
            return returned
        cursor.executemany(sql, params, returning=True)
        while True:
            returned.extend(cursor.fetchall())
            if not cursor.nextset():
                break
    except conn.dialect.loaded_dbapi.Error as exc:
        # The driver's error as SQLAlchemy raises it, so retries and outage checks see it.
        raise sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()
    return returned


def execute_each(conn: sa.Connection, sql: str, params: Sequence[tuple[Any, ...]]) -> list[bool]:
    """Run `sql` once per parameter tuple; for each, whether it changed a row (an INSERT ... ON
    CONFLICT DO NOTHING: whether the row went in). On SQLite this costs less than an executemany
    followed by reading the keys back through their column types."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    changed: list[bool] = []
    try:
        for values in params:
            cursor.execute(sql, values)
            changed.append(cursor.rowcount > 0)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()
    return changed
