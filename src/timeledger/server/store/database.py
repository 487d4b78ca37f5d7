"""Open the platform's database: engine options per dialect, and the dialect-specific insert."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from timeledger.server.store.writer_turns import turns_for

SQLITE_FILE_NAME = "timeledger.sqlite3"


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / SQLITE_FILE_NAME).resolve()}"


#: How long a SQLite statement waits for another connection's write lock before "locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # First: switching to WAL waits for a writer (a first start's migration) like any statement.
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # Takes effect only in a file without tables yet (a new store); compaction then hands the
    # pages it frees back (store/compaction.py). An older store keeps its mode until a VACUUM.
    cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str) -> Engine:
    """An engine with WAL and a busy timeout on SQLite, a pre-pinged pool on PostgreSQL."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={
            "check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    sa.event.listen(engine, "connect", _postgresql_adapters)
    return engine


def _postgresql_adapters(dbapi_connection: Any, _record: Any) -> None:
    # Here, not at the top: psycopg is an extra, and a connection here means it is installed.
    from timeledger.server.store.binary_array_dumper import register_binary_arrays

    register_binary_arrays(dbapi_connection)


def is_sqlite(engine_or_conn: Engine | sa.Connection) -> bool:
    return engine_or_conn.dialect.name == "sqlite"


def insert(table: sa.Table, dialect_name: str) -> Any:
    """`INSERT` that supports `on_conflict_do_nothing/_do_update` on both dialects."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


@contextmanager
def writer_turn(engine: Engine) -> Iterator[None]:
    """A turn among an SQLite file's writers (store/writer_turns.py); nothing for PostgreSQL or
    an in-memory database."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with turns_for(database, SQLITE_BUSY_TIMEOUT_MS / 1000).turn():
        yield


@contextmanager
def begin_write(engine: Engine) -> Iterator[sa.Connection]:
    """A transaction that holds SQLite's write lock from its first statement.

    SQLite starts a transaction as a reader; one that reads and then writes cannot take the write
    lock if another connection committed in between (SQLITE_BUSY_SNAPSHOT, without waiting). A
    write statement that changes nothing takes the lock first, waiting as any writer does."""
    with writer_turn(engine), engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("UPDATE platform_settings SET value = value WHERE 0")
        yield conn
