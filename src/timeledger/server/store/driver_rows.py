"""Hot inserts through the driver: a short statement prepared once with plain tuples, or on
PostgreSQL one statement over column arrays (`unnest_rows`).

SQLAlchemy Core runs every parameter of every row through its type processors, and on PostgreSQL
psycopg parses the long multi-row statement Core builds for each batch again; for the log's append
and the projector's per-event rows that is most of the cost. Values are converted here exactly as
the table's types would store them, so readers going through SQLAlchemy see the same values.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from timeledger.server.store.binary_arrays import binary_array
from timeledger.server.store.compact_keys import (
    TERM_VALUES,
    CaliperTerm,
)
from timeledger.server.store.schema import UtcDateTime, UtcMicroseconds, utc_microseconds


def sql_marks(conn: sa.Connection, count: int) -> str:
    """`?, ?, ...` or `%s, %s, ...` for the connection's driver."""
    return ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * count)


def driver_params(conn: sa.Connection, rows: Sequence[dict[str, Any]],
                  columns: Sequence[str], table: sa.Table | None = None) -> list[tuple[Any, ...]]:
    """Each row's values for `columns`, as the store's types write them on this dialect. Give
    `table` when any of its columns has a type of the store's own other than UtcDateTime
    (UtcMicroseconds, WindowKey, UuidText, CaliperTerm); without it every datetime is taken for
    UtcDateTime. A WindowKey may be given as its key or its SQLite integer (WindowKey says)."""
    if conn.dialect.name != "sqlite":
        return [tuple(row[name] for name in columns) for row in rows]
    if table is None:
        return [tuple(_sqlite_value(row[name]) for name in columns) for row in rows]
    if not rows:
        return []
    # Column by column: `map` calls each converter without a loop of Python's own per value, and
    # a converter in C (a dict's lookup, an lru cache's hit) without a Python frame at all.
    values: list[list[Any]] = [[row[name] for row in rows] for name in columns]
    # shared by the call's columns: a window's end is the next's start
    moments = UtcMicrosecondsMemo()
    for index, kind in _typed_columns(table, tuple(columns)):
        values[index] = _sqlite_column(conn.dialect, kind, values[index], moments)
    return list(zip(*values, strict=True))


def _sqlite_column(dialect: sa.Dialect, kind: sa.TypeDecorator[Any], values: list[Any],
                   moments: UtcMicrosecondsMemo) -> list[Any]:
    """A column's values as its type writes them on SQLite."""
    if isinstance(kind, UtcDateTime):
        return list(map(_sqlite_value, values))
    if isinstance(kind, UtcMicroseconds):
        return list(map(moments.__getitem__, values))
    if isinstance(kind, CaliperTerm):
        return list(map(TERM_VALUES.__getitem__, values))
    return list(map(kind.process_bind_param, values, itertools.repeat(dialect)))


class UtcMicrosecondsMemo(dict[datetime | None, int | None]):
    """UtcMicroseconds' integers on SQLite, each distinct time converted once (a batch's rows
    share many times): a known time is a lookup in C, with no Python frame. Only times in UTC
    itself are kept, as for `_remembered_utc_text`."""

    def __missing__(self, value: datetime | None) -> int | None:
        if value is None:
            return None
        number = utc_microseconds(value)
        if value.tzinfo is UTC:
            self[value] = number
        return number


@functools.lru_cache(maxsize=256)  # the few (table, columns) shapes the hot inserts use
def _typed_columns(table: sa.Table, columns: tuple[str, ...],
                   ) -> tuple[tuple[int, sa.TypeDecorator[Any]], ...]:
    """Each of `columns` whose type may change the value on its way to the driver: index, type.
    Remembered: Core's column lookups cost more than a one-event append's own conversions."""
    kinds = ((index, table.c[name].type) for index, name in enumerate(columns))
    return tuple((index, kind) for index, kind in kinds if isinstance(kind, sa.TypeDecorator))


def _sqlite_value(value: Any) -> Any:
    """Datetimes as UtcDateTime writes them on SQLite (naive UTC, microseconds); the rest as is."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is UTC:  # every time the pipeline makes (caliper.times parses to UTC)
        return _remembered_utc_text(value)
    return _utc_text(value)


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


#: `_utc_text` remembered across statements and batches: one completion's eventTime goes into
#: half a dozen tables, each converting it separately. Only for times in UTC itself, where equal
#: values are one instant and so one text (two times of a zone with a fold compare equal an
#: hour apart). Enough entries for a batch's distinct times (a window's end and start, about
#: two an event).
_remembered_utc_text = functools.lru_cache(maxsize=4096)(_utc_text)


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


def execute_counted(conn: sa.Connection, sql: str, params: Sequence[tuple[Any, ...]]) -> int:
    """Run `sql` once per parameter tuple in one `executemany`; the number of rows the
    executions changed together (on SQLite an INSERT ... ON CONFLICT DO NOTHING: how many went
    in). One call binds each row without a Python call of its own, where a call per row cost
    about 3k instructions more (SQLite, a run window's insert)."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, params)
        return int(cursor.rowcount)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def execute_each(conn: sa.Connection, sql: str, params: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Run `sql` once per parameter tuple; for each, the first row it returned, or None."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    found: list[Any] = []
    try:
        for values in params:
            cursor.execute(sql, values)
            found.append(cursor.fetchone())
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()
    return found


@functools.lru_cache(maxsize=64)  # per dialect (an engine's) and statement
def unnest_rows(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...],
                extra: sa.ColumnElement[Any] | None = None) -> str:
    """PostgreSQL: `SELECT <columns>[, extra] FROM unnest(%b::type[], ...)`, the rows of one
    array per column (`column_arrays`) in their order, as one statement: one bind of a few
    binary arrays and one plan for the whole batch, where `executemany` binds and executes each
    row. Strings go as `text` and take the column's length check on insert (a cast to
    `varchar(n)` would cut them short without an error)."""
    arrays = ", ".join(f"%b::{_array_element(dialect, table.c[name].type)}[]"
                       for name in columns)
    names = ", ".join(columns)
    more = "" if extra is None else f", {extra.compile(dialect=dialect)}"
    return (f"SELECT {names}{more} FROM unnest({arrays}) "
            f"WITH ORDINALITY AS given({names}, ordinality) ORDER BY ordinality")


def _array_element(dialect: sa.Dialect, kind: sa.types.TypeEngine[Any]) -> str:
    if isinstance(kind, sa.TypeDecorator):  # the type it stores as here (UuidText: a String)
        kind = kind.load_dialect_impl(dialect)
    if isinstance(kind, sa.String):
        return "text"
    return kind.compile(dialect=dialect)


def column_arrays(dialect: sa.Dialect, table: sa.Table, rows: Sequence[Mapping[str, Any]],
                  columns: Sequence[str]) -> list[Any]:
    """One array per column of the rows' values: `unnest_rows`' parameters."""
    return typed_arrays(dialect, table, tuple(columns),
                        [[row[name] for row in rows] for name in columns])


def typed_arrays(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...],
                 values: Sequence[list[Any]]) -> list[Any]:
    """Each column's values (`values`, in `columns`' order) as `unnest_rows` binds them: in
    PostgreSQL's binary form where store/binary_arrays.py makes it, else as the list."""
    return list(map(binary_array, _array_elements(dialect, table, columns), values))


@functools.lru_cache(maxsize=64)
def _array_elements(dialect: sa.Dialect, table: sa.Table,
                    columns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_array_element(dialect, table.c[name].type) for name in columns)


def execute_once(conn: sa.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run `sql` once on the connection's own driver cursor; the rows it returned, if any."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()
