"""Row-level upserts, one statement per table per batch, the same on SQLite and PostgreSQL.

Additive values are added by the database (`SET x = t.x + excluded.x`), never read and written
back, so concurrent transactions on PostgreSQL cannot lose an update. Rows are sent sorted by key
so that two transactions lock shared rows in the same order. On SQLite an upsert that returns
nothing goes to the driver's `executemany` with the statement Core compiled once (see
store/driver_rows.py), not through Core's per-row parameter processing. On PostgreSQL the same
statement runs once over column arrays (`unnest`), its one row of VALUES replaced.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from timeledger.server.store.database import insert
from timeledger.server.store.driver_rows import (
    column_arrays,
    driver_params,
    execute_counted,
    execute_each,
    execute_many,
    execute_once,
    sql_marks,
    unnest_rows,
)

Row = dict[str, Any]


def least(column: sa.ColumnElement[Any], new: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.case((sa.or_(column.is_(None), new < column), new), else_=column)


def greatest(column: sa.ColumnElement[Any], new: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.case((sa.or_(column.is_(None), new > column), new), else_=column)


# Statements are built once per shape and reused: building an upsert (and its cache key) costs
# far more than running it for a handful of rows.
_STATEMENTS: dict[tuple[Any, ...], Any] = {}
#: SQLite's text of a cached statement for rows with these keys and the columns it binds in
#: order, or None when it binds anything but the rows' columns (it then goes through Core).
_DRIVER_SQL: dict[tuple[Any, tuple[str, ...]], tuple[str, tuple[str, ...]] | None] = {}
#: Rows per statement of an upsert that returns rows on SQLite: one statement binds at most
#: 32,766 values there, and the widest table (runs) has 25 columns.
RETURNING_ROWS_PER_STATEMENT = 500


def _upsert_statement(dialect: str, table: sa.Table, keys: tuple[str, ...],
                      add: tuple[str, ...], keep: tuple[str, ...], latest: tuple[str, ...],
                      least_of: tuple[str, ...], greatest_of: tuple[str, ...],
                      custom: Callable[[Any, Any], Mapping[str, Any]] | None,
                      returning: tuple[str, ...]) -> Any:
    shape = (dialect, table.name, keys, add, keep, latest, least_of, greatest_of, custom,
             returning)
    stmt = _STATEMENTS.get(shape)
    if stmt is not None:
        return stmt
    stmt = insert(table, dialect)
    new = stmt.excluded
    c = table.c
    set_: dict[str, Any] = {}
    set_.update({name: c[name] + new[name] for name in add})
    set_.update({name: sa.func.coalesce(c[name], new[name]) for name in keep})
    set_.update({name: sa.func.coalesce(new[name], c[name]) for name in latest})
    set_.update({name: least(c[name], new[name]) for name in least_of})
    set_.update({name: greatest(c[name], new[name]) for name in greatest_of})
    if custom is not None:
        set_.update(custom(c, new))
    if set_:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=set_)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    if returning:
        stmt = stmt.returning(*(c[name] for name in returning))
    _STATEMENTS[shape] = stmt
    return stmt


def upsert(conn: sa.Connection, table: sa.Table, rows: Iterable[Row], keys: Sequence[str], *,
           add: Sequence[str] = (), keep: Sequence[str] = (), latest: Sequence[str] = (),
           least_of: Sequence[str] = (), greatest_of: Sequence[str] = (),
           custom: Callable[[Any, Any], Mapping[str, Any]] | None = None,
           returning: Sequence[str] = ()) -> list[Any]:
    """Insert `rows` (at most one per key); on a key that exists, combine column by column:
    `add` sums, `keep` keeps the stored value when set, `latest` takes the new value when set,
    `least_of`/`greatest_of` keep the extreme, `custom(table columns, excluded)` gives any
    other SET (pass a module-level function: statements are cached by it). With `returning`,
    the rows as stored after the statement, in no particular order, with those attributes."""
    return PendingUpsert(conn, table, rows, keys, add=add, keep=keep, latest=latest,
                         least_of=least_of, greatest_of=greatest_of, custom=custom,
                         returning=returning).run(conn)


class PendingUpsert:
    """An `upsert` (its arguments mean the same) with its rows sorted and converted for the
    driver when made (on SQLite as rows, on PostgreSQL as column arrays), so that made ahead of
    the write lock only the statement is left to run under it. Its rows must not change
    afterwards."""

    __slots__ = ("_arrays", "_params", "_returning", "_rows", "_sql", "_stmt", "_table",
                 "_width")

    def __init__(self, conn: sa.Connection, table: sa.Table, rows: Iterable[Row],
                 keys: Sequence[str], *, add: Sequence[str] = (), keep: Sequence[str] = (),
                 latest: Sequence[str] = (), least_of: Sequence[str] = (),
                 greatest_of: Sequence[str] = (),
                 custom: Callable[[Any, Any], Mapping[str, Any]] | None = None,
                 returning: Sequence[str] = ()) -> None:
        self._rows = sorted(rows, key=itemgetter(*keys))
        self._table = table
        self._returning = tuple(returning)
        self._sql: str | None = None
        self._params: list[tuple[Any, ...]] = []
        self._arrays: list[Any] = []
        self._width = 0
        self._stmt: Any = None
        if not self._rows:
            return
        self._stmt = _upsert_statement(conn.dialect.name, table, tuple(keys), tuple(add),
                                       tuple(keep), tuple(latest), tuple(least_of),
                                       tuple(greatest_of), custom, self._returning)
        if conn.dialect.name == "sqlite":
            compiled = _driver_sql(conn, self._stmt, tuple(self._rows[0]))
            if compiled is not None:
                self._sql, columns = compiled
                self._width = len(columns)
                self._params = driver_params(conn, self._rows, columns, table)
        elif conn.dialect.name == "postgresql":
            over_arrays = _unnest_sql(conn, self._stmt, table, tuple(self._rows[0]))
            if over_arrays is not None:
                self._sql, columns = over_arrays
                self._arrays = column_arrays(conn.dialect, table, self._rows, columns)

    def run(self, conn: sa.Connection) -> list[Any]:
        """Run the upsert in `conn`'s transaction; the rows it returned (see `upsert`)."""
        if not self._rows:
            return []
        if self._arrays:
            assert self._sql is not None
            returned = execute_once(conn, self._sql, self._arrays)
            if not self._returning:
                return []
            return _returned_shape(conn.dialect, self._table, self._returning).make(returned)
        if self._sql is not None:
            if not self._returning:
                execute_many(conn, self._sql, self._params)
                return []
            return _returned(conn, self._table, self._sql, self._width, self._params,
                             self._returning)
        result = conn.execute(self._stmt, self._rows)
        return list(result) if self._returning else []


def _driver_sql(conn: sa.Connection, stmt: Any,
                keys: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
    """The statement's SQL for rows with `keys`, and the columns it binds in order (SQLite)."""
    cache_key = (stmt, keys)  # statements are built once per shape and kept
    if cache_key not in _DRIVER_SQL:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys))
        columns = tuple(compiled.positiontup or ())
        _DRIVER_SQL[cache_key] = ((compiled.string, columns) if set(columns) <= set(keys)
                                  else None)
    return _DRIVER_SQL[cache_key]


#: PostgreSQL's upsert over column arrays for rows with these keys, and its columns in order;
#: None when the statement binds anything but the rows' columns (it then goes through Core).
_UNNEST_SQL: dict[tuple[Any, tuple[str, ...]], tuple[str, tuple[str, ...]] | None] = {}


def _unnest_sql(conn: sa.Connection, stmt: Any, table: sa.Table,
                keys: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
    """The statement with its one row of VALUES replaced by the rows of one array per column
    (`unnest_rows`, in the rows' order): one execution for the batch, where Core's
    `executemany` binds and executes the statement once per row."""
    cache_key = (stmt, keys)
    if cache_key not in _UNNEST_SQL:
        sql = stmt.compile(dialect=conn.dialect, column_keys=list(keys)).string
        columns = tuple(column.name for column in table.columns if column.name in keys)
        head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ("
        values_end = sql.find(") ON CONFLICT ")
        rest = sql[values_end + 1:]
        _UNNEST_SQL[cache_key] = (
            (f"{head[:-len('VALUES (')]}{unnest_rows(conn.dialect, table, columns)}{rest}",
             columns)
            if set(columns) == set(keys) and sql.startswith(head) and values_end > 0
            and "%(" not in rest else None)
    return _UNNEST_SQL[cache_key]


def _returned(conn: sa.Connection, table: sa.Table, sql: str, width: int,
              params: Sequence[tuple[Any, ...]], returning: tuple[str, ...]) -> list[Any]:
    """Run a one-row upsert `sql` ending in RETURNING for many rows on SQLite, in statements of
    several VALUES rows, on the driver's cursor; the returned values as the columns' types read
    them."""
    one_row = "(" + ", ".join(["?"] * width) + ")"
    shape = _returned_shape(conn.dialect, table, returning)
    out: list[Any] = []
    for start in range(0, len(params), RETURNING_ROWS_PER_STATEMENT):
        chunk = params[start:start + RETURNING_ROWS_PER_STATEMENT]
        many = sql.replace(f"VALUES {one_row}", "VALUES " + ", ".join([one_row] * len(chunk)), 1)
        out.extend(shape.make(execute_once(conn, many, [v for values in chunk for v in values])))
    return out


class _ReturnedShape:
    """How raw returned rows become named rows of values read through the columns' types."""

    def __init__(self, dialect: sa.Dialect, table: sa.Table, names: tuple[str, ...]) -> None:
        self._row: Any = namedtuple("_Returned", names)  # type: ignore[misc]
        readers = [table.c[name].type.dialect_impl(dialect).result_processor(dialect, None)
                   for name in names]
        self._readers = [(index, read) for index, read in enumerate(readers) if read is not None]

    def make(self, raw: Sequence[Sequence[Any]]) -> list[Any]:
        values = [list(found) for found in raw]
        for index, read in self._readers:
            for found in values:
                found[index] = read(found[index])
        return list(map(self._row._make, values))


_SHAPES: dict[tuple[str, str, tuple[str, ...]], _ReturnedShape] = {}


def _returned_shape(dialect: sa.Dialect, table: sa.Table,
                    names: tuple[str, ...]) -> _ReturnedShape:
    key = (dialect.name, table.name, names)
    if key not in _SHAPES:
        _SHAPES[key] = _ReturnedShape(dialect, table, names)
    return _SHAPES[key]


class PendingInsert:
    """Rows to insert where their key is not stored yet, converted for the driver ahead of the
    write (before the write lock, on SQLite); `run` inserts them in the order given (through the
    driver: see store/driver_rows.py) and returns the `marker` values of the rows that did not
    go in. Markers tell rows apart (a seq).

    On PostgreSQL the rows go as one statement over column arrays (`unnest_rows`), as the
    append's do: an `executemany` of a one-row INSERT costs the server a bind and an execution
    per row, which made a batch's run windows the projector's largest statement there."""

    def __init__(self, conn: sa.Connection, table: sa.Table, rows: Sequence[Row],
                 keys: Sequence[str], marker: str) -> None:
        self._markers = [row[marker] for row in rows]
        self._sql = self._stored_sql = ""
        self._params: list[tuple[Any, ...]] = []
        self._arrays: list[Any] = []
        self._keys: list[int] = []
        self._marker = 0
        if not rows:
            return
        quote = conn.dialect.identifier_preparer.quote
        columns = list(rows[0])
        into = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)})"
        conflict = f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO NOTHING"
        if conn.dialect.name == "postgresql":
            self._sql = (f"{into} {unnest_rows(conn.dialect, table, tuple(columns))} {conflict} "
                         f"RETURNING {quote(marker)}")
            self._arrays = column_arrays(conn.dialect, table, rows, columns)
            return
        self._sql = f"{into} VALUES ({sql_marks(conn, len(columns))}) {conflict}"
        # which rows went in, when not all did: the marker stored under each row's key
        self._stored_sql = (f"SELECT {quote(marker)} FROM {quote(table.name)} WHERE "
                            + " AND ".join(f"{quote(k)} = ?" for k in keys))
        self._keys = [columns.index(k) for k in keys]
        self._marker = columns.index(marker)
        self._params = driver_params(conn, rows, columns, table)

    def run(self, conn: sa.Connection) -> set[Any]:
        if self._arrays:
            inserted = {found[0] for found in execute_once(conn, self._sql, self._arrays)}
            return {marker for marker in self._markers if marker not in inserted}
        if not self._params:
            return set()
        if execute_counted(conn, self._sql, self._params) == len(self._params):
            return set()
        # A key stored before (a resend): rare. A row holding NULL in its key always goes in.
        keyed = [(marker, values) for marker, values in zip(self._markers, self._params,
                                                            strict=True)
                 if None not in (values[k] for k in self._keys)]
        stored = execute_each(conn, self._stored_sql,
                              [tuple(values[k] for k in self._keys) for _m, values in keyed])
        return {marker for (marker, values), found in zip(keyed, stored, strict=True)
                if found is None or found[0] != values[self._marker]}


def insert_new(conn: sa.Connection, table: sa.Table, rows: Sequence[Row], keys: Sequence[str],
               marker: str) -> set[Any]:
    """Insert rows whose key is not stored yet (in the order given); returns the `marker`
    values of the rows inserted."""
    pending = PendingInsert(conn, table, rows, keys, marker)
    return {row[marker] for row in rows} - pending.run(conn)


def changing_rows(conn: sa.Connection, table: sa.Table, rows: Iterable[Row],
                  keys: Sequence[str], *, keep: Sequence[str] = (),
                  least_of: Sequence[str] = ()) -> list[Row]:
    """The rows an `upsert` with these `keep`/`least_of` rules would change, new keys included.

    A row every writer names (a course) is read first, without a lock, so that a transaction
    locks it only when it has something to write: otherwise concurrent ingests on PostgreSQL
    queue behind each other for the whole of their transactions. Skipping is safe because these
    rules only ever move a stored value one way: what a committed row already holds stays."""
    rows = list(rows)
    stored = stored_rows(conn, table, {tuple(row[name] for name in keys) for row in rows}, keys,
                         (*keep, *least_of))
    return changed_rows(rows, stored, keys, keep=keep, least_of=least_of)


def stored_rows(conn: sa.Connection, table: sa.Table, wanted: Collection[tuple[Any, ...]],
                keys: Sequence[str], columns: Sequence[str]) -> dict[tuple[Any, ...], Any]:
    """The stored rows with these keys (`columns` of each), by key: `changed_rows`' state."""
    if not wanted:
        return {}
    key_columns = [table.c[name] for name in keys]
    match = (key_columns[0].in_([key[0] for key in wanted]) if len(keys) == 1
             else sa.tuple_(*key_columns).in_(sorted(wanted)))
    return {tuple(found[:len(keys)]): found._mapping for found in conn.execute(
        sa.select(*key_columns, *(table.c[name] for name in columns)).where(match))}


def changed_rows(rows: Iterable[Row], stored: Mapping[tuple[Any, ...], Any],
                 keys: Sequence[str], *, keep: Sequence[str] = (),
                 least_of: Sequence[str] = ()) -> list[Row]:
    """`changing_rows` against `stored` (`stored_rows` of at least these rows' keys)."""

    def changes(row: Row) -> bool:
        old = stored.get(tuple(row[name] for name in keys))
        if old is None:
            return True
        return (any(old[name] is None and row[name] is not None for name in keep)
                or any(row[name] is not None and (old[name] is None or row[name] < old[name])
                       for name in least_of))

    return [row for row in rows if changes(row)]
