"""Texts that come with every event (its sensor, actor id, learner e-mail and run id) kept once on
SQLite: the events row (and a run's window, `run_windows.run_id`) holds a small integer, the id of
the text's row in `interned_texts`, and every reader still sees the text.

Reading is in SQL, so no reader needs to know: `InternedText` wraps the column wherever a SELECT
returns it (`(SELECT value FROM interned_texts WHERE id = events.sensor)`) and a value compared
with it (`events.learner_email = (SELECT id FROM interned_texts WHERE value = ?)`, which still
walks the column's index). An id never changes meaning once its row is committed: rows are only
ever added. PostgreSQL keeps its text columns (the table is there, empty).

Writing is the append's and the projector's (`text_ids`; store/event_appends.py,
pipeline/windows.py): each connection remembers the ids it has seen, and may remember an id only
once the transaction that inserted it has committed. A
group commit that rolls back takes its new `interned_texts` rows with it, and SQLite would hand
the same ids to other texts later. So ids a transaction inserted are forgotten when the
connection's next transaction starts, and looked up again when they next come: an insert that
then finds the text already stored (`ON CONFLICT DO NOTHING`) proves that it was committed, by
this process or any other (the text column is UNIQUE). `stored_text_ids` only reads: the ids of
texts already stored, under the same rule (the projector's plan, ahead of its write lock). Core
INSERTs and UPDATEs that set these columns are refused on SQLite: they could not intern a new text
(comparing with them, as an UPDATE's WHERE does, is allowed).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import dml
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

#: The table of texts (store/schema.py defines it): `id INTEGER PRIMARY KEY, value UNIQUE`.
TABLE = "interned_texts"
#: Texts a connection remembers; past it, it forgets them all when its next transaction starts
#: (a store with more learners than this looks theirs up again, a batch's in two statements).
REMEMBERED_TEXTS = 65_536
_IN_CHUNK = 500  # texts per statement (SQLite allows 32,766 parameters)


class _TextOfId(FunctionElement[str]):
    """The text a column holds the id of (SQLite); the column itself elsewhere."""

    inherit_cache = True
    name = "text_of_id"
    type = sa.String()


class _IdOfText(FunctionElement[Any]):
    """The id a text is stored under (SQLite); the text itself elsewhere."""

    inherit_cache = True
    name = "id_of_text"


@compiles(_TextOfId)
@compiles(_IdOfText)
def _as_is(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_TextOfId, "sqlite")
def _text_of_id(element: _TextOfId, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    # A text in the column (a row written by hand with SQL, not through the append) reads as it is.
    return (f"CASE WHEN typeof({column}) = 'integer' THEN "
            f"(SELECT value FROM {TABLE} WHERE id = {column}) ELSE {column} END")


@compiles(_IdOfText, "sqlite")
def _id_of_text(element: _IdOfText, compiler: SQLCompiler, **kw: Any) -> str:
    statement = compiler.stack[-1]["selectable"] if compiler.stack else None
    # A value to set (not one side of a comparison, which SQLAlchemy compiles as a binary).
    if isinstance(statement, dml.Insert | dml.Update) and "_binary_op" not in kw:
        raise sa.exc.CompileError(
            "events.sensor, actor_id, learner_email and run_id and run_windows.run_id hold "
            "interned ids on SQLite: write events through store.event_appends.append_rows, "
            "windows with the ids of store.interned_texts.text_ids")
    return f"(SELECT id FROM {TABLE} WHERE value = {compiler.process(element.clauses, **kw)})"


class InternedText(sa.TypeDecorator[str]):
    """A text column whose values repeat (events' sensor, actor id, e-mail, run id; run_windows'
    run id): on SQLite an INTEGER holding the id of the text's `interned_texts` row (1-3 bytes in
    the row and in the column's index, where the bench's actor id took 63 and a run id's 16 bytes
    17), read and compared as the text in SQL; on PostgreSQL the text."""

    impl = sa.String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Integer())
        return dialect.type_descriptor(sa.String(self.length))

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        """A row written through the driver (store/driver_rows.py) gives the id on SQLite."""
        if isinstance(value, str) and dialect.name == "sqlite":
            raise ValueError(f"{value!r} is not interned: give its id (store.interned_texts."
                             "text_ids)")
        return value

    def column_expression(self, column: Any) -> Any:
        return _TextOfId(column)

    def bind_expression(self, bindvalue: Any) -> Any:
        # The value is bound as the text it is (not through the column's INTEGER on SQLite).
        return _IdOfText(sa.type_coerce(bindvalue, sa.String(self.length)))


class _Remembered:
    """One connection's ids of texts, valid in its current transaction."""

    __slots__ = ("ids", "inserted", "transaction")

    def __init__(self) -> None:
        self.ids: dict[str | None, int | None] = {None: None}
        self.inserted: list[str] = []  # by the current transaction: not known to be committed
        self.transaction: weakref.ref[sa.RootTransaction] | None = None

    def begin(self, transaction: sa.RootTransaction) -> None:
        for text in self.inserted:
            del self.ids[text]
        self.inserted.clear()
        if len(self.ids) > REMEMBERED_TEXTS:
            self.ids = {None: None}
        self.transaction = weakref.ref(transaction)


_INFO_KEY = "timeledger.interned_texts"


def text_ids(conn: sa.Connection, texts: Iterable[str | None]) -> Mapping[str | None, int | None]:
    """SQLite: the id of each of `texts` (None's is None), inserting the new ones, valid for the
    rest of `conn`'s transaction. The mapping may hold more texts; read it before the next call."""
    remembered = _remembered(conn)
    missing = set(texts).difference(remembered.ids)
    if missing:  # (None is always remembered)
        _look_up(conn, remembered, sorted(text for text in missing if text is not None))
    return remembered.ids


def stored_text_ids(conn: sa.Connection,
                    texts: Iterable[str | None]) -> Mapping[str | None, int | None]:
    """SQLite: the ids of those of `texts` already stored (None's is None), inserting nothing, so
    a read-only transaction may look them up; valid for the rest of `conn`'s transaction, and
    every later one for those committed. A text not stored is not in the mapping, which may hold
    more texts; read it before the next call."""
    remembered = _remembered(conn)
    missing = sorted(text for text in set(texts).difference(remembered.ids) if text is not None)
    if missing:
        # Not inserted by this transaction (its inserts are remembered already): committed.
        _select_ids(conn, remembered, missing)
    return remembered.ids


def _remembered(conn: sa.Connection) -> _Remembered:
    if conn.get_nested_transaction() is not None:
        # A savepoint rolled back would take rows with it while the transaction goes on.
        raise RuntimeError("interned texts are not looked up inside a savepoint")
    # Begun as SQLAlchemy's autobegin would (the lookups run on the driver's own cursor).
    transaction = conn.get_transaction() or conn.begin()
    info = conn.connection.info
    remembered: _Remembered | None = info.get(_INFO_KEY)
    if remembered is None:
        remembered = info[_INFO_KEY] = _Remembered()
    if remembered.transaction is None or remembered.transaction() is not transaction:
        remembered.begin(transaction)
    return remembered


def _look_up(conn: sa.Connection, remembered: _Remembered, texts: list[str]) -> None:
    inserted: dict[str, int] = {}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for chunk in _chunks(texts):
            cursor.execute(f"INSERT INTO {TABLE} (value) VALUES {', '.join(['(?)'] * len(chunk))} "
                           "ON CONFLICT (value) DO NOTHING RETURNING value, id", chunk)
            inserted.update(cursor.fetchall())
        remembered.ids.update(inserted)
        remembered.inserted.extend(inserted)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(f"INSERT INTO {TABLE}", None, exc,
                                         conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()
    # Already there and not inserted by this transaction: committed.
    _select_ids(conn, remembered, [text for text in texts if text not in inserted])


def _select_ids(conn: sa.Connection, remembered: _Remembered, texts: list[str]) -> None:
    """Remember the ids of those of `texts` that are stored (all committed: see the callers)."""
    if not texts:
        return
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for chunk in _chunks(texts):
            cursor.execute(f"SELECT value, id FROM {TABLE} WHERE value IN "
                           f"({', '.join(['?'] * len(chunk))})", chunk)
            remembered.ids.update(cursor.fetchall())
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(f"SELECT FROM {TABLE}", None, exc,
                                         conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def _chunks(texts: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(texts), _IN_CHUNK):
        yield texts[start:start + _IN_CHUNK]
