"""`timeledger db upgrade|current|revision`: the database schema and its migrations."""

from __future__ import annotations

from pathlib import Path

import click

from timeledger.cli.options import database_options, resolve_db_url
from timeledger.server.store.database import create_engine
from timeledger.server.store.migrate import (
    SchemaError,
    new_revision,
    schema_state,
    upgrade_command,
)
from timeledger.server.store.migrate import upgrade as upgrade_schema


@click.group()
def db() -> None:
    """Database schema: apply migrations, show the revision."""


@db.command()
@database_options
def upgrade(db_url: str | None, data_dir: Path | None) -> None:
    """Bring the schema up to date (one transaction; safe to run while nothing else migrates)."""
    url, _folder = resolve_db_url(db_url, data_dir)
    engine = create_engine(url)
    try:
        before, after = upgrade_schema(engine)
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"schema already at revision {after} (the latest)")
    else:
        click.echo(f"schema upgraded from {before or 'an empty database'} to revision {after}")


@db.command()
@database_options
@click.option("--check", is_flag=True, help="Exit with status 1 unless the schema is the latest.")
def current(db_url: str | None, data_dir: Path | None, check: bool) -> None:
    """Show the database's schema revision and whether it is the latest."""
    url, _folder = resolve_db_url(db_url, data_dir)
    engine = create_engine(url)
    try:
        state = schema_state(engine)
    finally:
        engine.dispose()
    if state.up_to_date:
        click.echo(f"{state.current} (the latest)")
        return
    if state.empty:
        click.echo(f"empty database; the latest revision is {state.head}")
    elif state.current is None:
        click.echo("tables without a timeledger schema revision")
    else:
        click.echo(f"{state.current}; the latest is {state.head}: run "
                   f"{upgrade_command(engine.url)}")
    if check:
        raise SystemExit(1)


@db.command()
@click.option("-m", "--message", required=True, help="What the change does, e.g. 'add flags'.")
@click.option("--db", "db_url", default=None,
              help="A scratch database to compare against (default: in-memory SQLite).")
def revision(message: str, db_url: str | None) -> None:
    """For timeledger developers: write the next migration from the code's tables."""
    engine = create_engine(db_url) if db_url else None
    try:
        path = new_revision(message, engine)
    finally:
        if engine is not None:
            engine.dispose()
    click.echo(f"wrote {path}; read it, then run the migration tests")

