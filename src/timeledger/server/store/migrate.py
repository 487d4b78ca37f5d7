"""Schema migrations: Alembic configured in code, the schema check at start-up, and upgrades."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from timeledger.server.store.database import SQLITE_FILE_NAME
from timeledger.server.store.tables import metadata

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant will do: it names the lock that serializes schema changes on PostgreSQL.
_PG_SCHEMA_LOCK = 0x74_6C_73_63_68_65_6D_61  # "tlschema"


class SchemaError(RuntimeError):
    """The database's schema is not the one this timeledger needs; the message says what to do."""


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a database stands: its recorded revision, the code's head, and its tables."""

    current: str | None
    head: str
    tables: frozenset[str]

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def empty(self) -> bool:
        return self.current is None and not self.tables


def alembic_config(connection: sa.Connection | None = None, *,
                   location: Path | None = None) -> Config:
    """Alembic's config without an alembic.ini: env.py reads the connection from `attributes`."""
    config = Config()
    config.set_main_option("script_location", str(location or MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.set_main_option("truncate_slug_length", "40")
    config.attributes["connection"] = connection
    return config


@functools.lru_cache(maxsize=8)
def _scripts(location: Path) -> ScriptDirectory:
    """The migration scripts, read once per process (every start-up checks against them)."""
    return ScriptDirectory.from_config(alembic_config(location=location))


def head_revision(location: Path | None = None) -> str:
    heads = _scripts(location or MIGRATIONS_DIR).get_heads()
    if len(heads) != 1:
        raise SchemaError(f"the migrations have {len(heads)} heads ({', '.join(heads)}); "
                          "merge them into one")
    return heads[0]


def _known_revisions(location: Path | None) -> set[str]:
    return {rev.revision for rev in _scripts(location or MIGRATIONS_DIR).walk_revisions()}


def _state(conn: sa.Connection, location: Path | None) -> SchemaState:
    heads = MigrationContext.configure(conn).get_current_heads()
    tables = frozenset(sa.inspect(conn).get_table_names()) - {"alembic_version"}
    return SchemaState(current=heads[0] if heads else None, head=head_revision(location),
                       tables=tables)


def schema_state(engine: Engine, *, location: Path | None = None) -> SchemaState:
    with engine.connect() as conn:
        return _state(conn, location)


def upgrade_command(url: sa.URL) -> str:
    """The command an operator runs to bring this database up to date."""
    if url.get_backend_name() == "sqlite" and url.database:
        path = Path(url.database)
        if path.name == SQLITE_FILE_NAME:
            return f"timeledger db upgrade --data-dir {path.parent}"
        return f"timeledger db upgrade --db sqlite:///{path}"
    shown = url.set(drivername=url.get_backend_name())
    return f"timeledger db upgrade --db '{shown.render_as_string(hide_password=True)}'"


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction that holds the schema lock: one migrator at a time."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, and DDL in one transaction
        else:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK)))
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def _run_upgrade(conn: sa.Connection, revision: str, location: Path | None) -> None:
    command.upgrade(alembic_config(conn, location=location), revision)


def upgrade(engine: Engine, revision: str = "head", *,
            location: Path | None = None) -> tuple[str | None, str | None]:
    """Apply migrations up to `revision` in one transaction; returns (before, after)."""
    with _schema_lock(engine) as conn:
        state = _state(conn, location)
        if state.current is None and state.tables:
            raise _unversioned(engine.url, state)
        if state.current is not None and state.current not in _known_revisions(location):
            raise _too_new(state)
        _run_upgrade(conn, revision, location)
        after = MigrationContext.configure(conn).get_current_heads()
        return state.current, after[0] if after else None


def downgrade(engine: Engine, revision: str, *, location: Path | None = None) -> None:
    with _schema_lock(engine) as conn:
        command.downgrade(alembic_config(conn, location=location), revision)


def ensure_schema(engine: Engine, *, auto_create_empty: bool = False,
                  location: Path | None = None) -> SchemaState:
    """Check the database is at the code's schema revision, or raise SchemaError saying why.

    With `auto_create_empty`, a brand-new database (no tables at all) is migrated to head;
    a database at an older revision is never changed here: `timeledger db upgrade` does that.
    """
    state = schema_state(engine, location=location)
    if not state.up_to_date and state.empty and auto_create_empty:
        with _schema_lock(engine) as conn:
            state = _state(conn, location)  # another process may have done it meanwhile
            if state.empty:
                _run_upgrade(conn, "head", location)
                state = _state(conn, location)
    if state.up_to_date:
        _check_tables(state)
        return state
    if state.empty:
        raise SchemaError(f"the database at {_shown(engine.url)} has no tables yet; create them "
                          f"with: {upgrade_command(engine.url)}")
    if state.current is None:
        raise _unversioned(engine.url, state)
    if state.current not in _known_revisions(location):
        raise _too_new(state)
    raise SchemaError(
        f"the database at {_shown(engine.url)} has schema revision {state.current}, and this "
        f"timeledger needs {state.head}; back it up, then run: {upgrade_command(engine.url)}")


def _shown(url: sa.URL) -> str:
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def _unversioned(url: sa.URL, state: SchemaState) -> SchemaError:
    some = ", ".join(sorted(state.tables)[:5])
    return SchemaError(f"the database at {_shown(url)} has tables ({some}) but no timeledger "
                       "schema revision; it was not made by `timeledger db upgrade`. Point "
                       "--db at an empty database, or export the events and import them there")


def _too_new(state: SchemaState) -> SchemaError:
    return SchemaError(f"the database has schema revision {state.current}, which this timeledger "
                       f"does not know (its newest is {state.head}); run a newer timeledger")


def _check_tables(state: SchemaState) -> None:
    """Tables in code that no migration makes: a developer forgot `timeledger db revision`."""
    missing = sorted(set(metadata.tables) - state.tables)
    if missing:
        raise SchemaError(f"tables {', '.join(missing)} are defined in code but no migration "
                          "creates them; generate one with: timeledger db revision -m '<what>'")


# --- for developers: the full metadata, drift between code and migrations, new revisions ------

def _compare_options() -> dict[str, Any]:
    return {"compare_type": True, "render_item": render_item}


def schema_differences(engine: Engine) -> list[Any]:
    """What differs between the code's tables and this (migrated) database; [] when in step."""
    target = metadata
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=_compare_options())
        return list(compare_metadata(context, target))


def new_revision(message: str, engine: Engine | None = None, *,
                 location: Path | None = None) -> Path:
    """Autogenerate the next migration: the code's tables against a database at head.

    Without an engine this uses an in-memory SQLite database migrated to head.
    """
    if engine is None:
        engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    script = ScriptDirectory.from_config(alembic_config(location=location))
    rev_id = f"{len(list(script.walk_revisions())) + 1:04d}"
    with engine.connect() as conn:
        config = alembic_config(conn, location=location)
        config.attributes["target_metadata"] = metadata
        with conn.begin():
            command.upgrade(config, "head")
            written = command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
    assert written is not None and not isinstance(written, list)
    return Path(written.path)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Migrations name plain SQLAlchemy types, never the app's own (they outlive the code)."""
    if type_ == "type" and isinstance(obj, sa.TypeDecorator):
        from alembic.autogenerate.render import _repr_type

        return _repr_type(obj.impl_instance, autogen_context)
    return False


def run_migrations() -> None:
    """The body of env.py: run on the connection `alembic_config` was given."""
    from alembic import context

    conn = context.config.attributes.get("connection")
    if conn is None:
        raise SchemaError("run timeledger's migrations with `timeledger db upgrade`, "
                          "not the alembic command")
    context.configure(
        connection=conn,
        target_metadata=context.config.attributes.get("target_metadata"),
        render_as_batch=True,  # ALTERs that SQLite can run too (it alters by copying)
        **_compare_options(),
    )
    with context.begin_transaction():
        context.run_migrations()

