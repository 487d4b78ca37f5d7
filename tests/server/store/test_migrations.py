"""Migrations on both backends: they make exactly the code's tables, and start-up checks them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from pprint import pformat

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from tests.support.platform import run_cli
from timeledger.server.store import migrate
from timeledger.server.store.database import create_engine, sqlite_url
from timeledger.server.store.migrate import (
    MIGRATIONS_DIR,
    SchemaError,
    downgrade,
    ensure_schema,
    head_revision,
    new_revision,
    schema_differences,
    schema_state,
    upgrade,
)

HEAD = head_revision()

LATER_REVISION = '''"""A revision after the shipped head, for the tests."""

import sqlalchemy as sa
from alembic import op

revision = "later"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("later_notes", sa.Column("id", sa.Integer, primary_key=True))
    {extra}


def downgrade() -> None:
    op.drop_table("later_notes")
'''


def _copy_migrations(tmp_path: Path, extra: str | None = None) -> Path:
    location = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, location, ignore=shutil.ignore_patterns("__pycache__"))
    if extra is not None:
        (location / "versions" / "later.py").write_text(
            LATER_REVISION.format(head=HEAD, extra=extra))
    return location


@pytest.fixture
def later(tmp_path: Path) -> Path:
    """The shipped migrations plus one more revision ("later") that adds a table."""
    return _copy_migrations(tmp_path, extra="")


def test_migrations_make_exactly_the_tables_in_code(engine: Engine) -> None:
    upgrade(engine)
    diffs = schema_differences(engine)
    assert diffs == [], (
        "The tables in code and the migrations differ. Write a migration with "
        "`timeledger db revision -m '<what changed>'`, read it, and commit it:\n" + pformat(diffs))


def test_downgrade_to_base_and_up_again(engine: Engine) -> None:
    upgrade(engine)
    downgrade(engine, "base")
    assert schema_state(engine).tables == frozenset()
    upgrade(engine)
    assert schema_differences(engine) == []


def test_first_start_migrates_an_empty_database(engine: Engine) -> None:
    state = ensure_schema(engine, auto_create_empty=True)
    assert state.current == state.head == HEAD
    assert ensure_schema(engine) == state  # the next start changes nothing


def test_an_empty_database_is_not_touched_without_auto_create(engine: Engine) -> None:
    with pytest.raises(SchemaError, match="no tables yet; create them with: timeledger db upgrade"):
        ensure_schema(engine)
    assert schema_state(engine).empty


def test_an_older_revision_is_refused_until_upgraded(engine: Engine, later: Path) -> None:
    upgrade(engine)
    with pytest.raises(SchemaError) as refused:
        ensure_schema(engine, auto_create_empty=True, location=later)
    message = str(refused.value)
    assert f"has schema revision {HEAD}, and this timeledger needs later" in message
    assert "run: timeledger db upgrade --" in message
    assert schema_state(engine, location=later).current == HEAD  # refused means untouched
    assert upgrade(engine, location=later) == (HEAD, "later")
    assert ensure_schema(engine, location=later).current == "later"
    assert "later_notes" in sa.inspect(engine).get_table_names()


def test_a_database_newer_than_the_code_is_refused(engine: Engine, later: Path) -> None:
    upgrade(engine, location=later)
    with pytest.raises(SchemaError, match="revision later, which this timeledger does not know"):
        ensure_schema(engine, auto_create_empty=True)
    with pytest.raises(SchemaError, match="does not know"):
        upgrade(engine)


def test_tables_without_a_revision_are_refused(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE events (seq INTEGER PRIMARY KEY)")
    with pytest.raises(SchemaError, match=r"has tables \(events\) but no timeledger schema"):
        ensure_schema(engine, auto_create_empty=True)
    with pytest.raises(SchemaError, match="no timeledger schema revision"):
        upgrade(engine)


def test_a_failing_migration_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    """Every upgrade is one transaction, on SQLite too: a failure leaves the old schema."""
    broken = _copy_migrations(tmp_path, extra='op.execute("SELECT * FROM no_such_table")')
    upgrade(engine)
    with pytest.raises(sa.exc.DBAPIError):
        upgrade(engine, location=broken)
    state = schema_state(engine, location=broken)
    assert state.current == HEAD
    assert "later_notes" not in state.tables


def test_concurrent_first_starts_migrate_once(new_url: Callable[[], str]) -> None:
    url = new_url()
    engines = [create_engine(url) for _ in range(6)]
    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            states = list(pool.map(lambda e: ensure_schema(e, auto_create_empty=True), engines))
    finally:
        for made in engines:
            made.dispose()
    assert {state.current for state in states} == {HEAD}


def test_db_commands(new_url: Callable[[], str]) -> None:
    url = new_url()
    empty = run_cli("db", "current", "--check", "--db", url, check=False)
    assert empty.returncode == 1
    assert "empty database; the latest revision is" in empty.stdout
    upgraded = run_cli("db", "upgrade", "--db", url).stdout
    assert f"schema upgraded from an empty database to revision {HEAD}" in upgraded
    latest = run_cli("db", "current", "--check", "--db", url).stdout
    assert latest.startswith(f"{HEAD} (the latest)")


def test_upgrading_twice_changes_nothing(engine: Engine) -> None:
    assert upgrade(engine) == (None, HEAD)
    assert upgrade(engine) == (HEAD, HEAD)


@pytest.mark.backends("sqlite")
def test_db_upgrade_takes_a_data_dir(backend: object, tmp_path: Path) -> None:
    upgraded = run_cli("db", "upgrade", "--data-dir", str(tmp_path)).stdout
    assert f"to revision {HEAD}" in upgraded
    assert (tmp_path / "timeledger.sqlite3").exists()


def test_serve_refuses_an_older_schema_and_names_the_command(
        new_url: Callable[[], str], later: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = new_url()
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", later)  # this timeledger now needs "later"
    from timeledger.cli.main import cli

    result = CliRunner().invoke(cli, ["serve", "--db", url, "--port", "1"])
    assert result.exit_code == 1, result.output
    assert f"has schema revision {HEAD}, and this timeledger needs later" in result.output
    assert "timeledger db upgrade --" in result.output


def test_revision_writes_an_empty_migration_when_code_and_schema_agree(tmp_path: Path) -> None:
    location = _copy_migrations(tmp_path)
    written = new_revision("nothing new", location=location)
    assert written.name == f"{int(HEAD) + 1:04d}_nothing_new.py"
    text = written.read_text()
    assert f"down_revision = '{HEAD}'" in text
    assert "op." not in text  # no operation either way
    compile(text, str(written), "exec")


def test_sqlite_file_name_matches_the_data_dir_layout(tmp_path: Path) -> None:
    """`upgrade_command` points SQLite users at --data-dir, the way they started the server."""
    engine = create_engine(sqlite_url(tmp_path))
    assert migrate.upgrade_command(engine.url) == f"timeledger db upgrade --data-dir {tmp_path}"
