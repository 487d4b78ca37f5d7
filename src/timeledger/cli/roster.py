"""`timeledger roster import PATH`: load a OneRoster 1.2 CSV export, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from timeledger.cli.options import database_options, resolve_db_url
from timeledger.server.platform import open_platform
from timeledger.server.queries.roster_links import linked_student_count
from timeledger.server.roster_import.apply import RosterImport, import_roster
from timeledger.server.roster_import.sources import SourceError
from timeledger.server.settings import Settings
from timeledger.server.store.migrate import SchemaError


@click.group()
def roster() -> None:
    """The school roster: classes, teachers and students from a OneRoster export."""


def _counts_table(result: RosterImport) -> Table:
    table = Table("file", "added", "updated", "unchanged", "deleted", "stale")
    for name, counts in result.counts.items():
        table.add_row(name, *(str(n) for n in (counts.added, counts.updated, counts.unchanged,
                                               counts.deleted, counts.stale)))
    return table


@roster.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@database_options
def import_command(path: Path, db_url: str | None, data_dir: Path | None) -> None:
    """Import a OneRoster 1.2 CSV export (a folder or a zip): all of it, or nothing.

    Each file is bulk (the complete set: records it leaves out become tobedeleted) or delta
    (changes, by status and dateLastModified), as manifest.csv says. Importing the same export
    again changes nothing. Every refused row is listed by file, line and field, nothing is
    applied, and the command exits with status 1.
    """
    url, folder = resolve_db_url(db_url, data_dir)
    try:
        platform = open_platform(Settings(db_url=url, data_dir=folder))
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    console = Console(stderr=True)
    try:
        with Progress(TextColumn("[bold]roster[/] {task.description}"), BarColumn(),
                      MofNCompleteColumn(), console=console, transient=True) as progress:
            tasks: dict[str, TaskID] = {}

            def advance(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = progress.add_task(name, total=total)
                progress.update(tasks[name], completed=done)

            result = import_roster(platform.engine, path, platform.now(), advance)
        with platform.engine.connect() as conn:
            linked, students = linked_student_count(conn)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        platform.close()
    for warning in result.warnings:
        console.print(Text.assemble(("warning ", "yellow"), warning), highlight=False,
                      soft_wrap=True)
    if not result.applied:
        for problem in result.problems:
            console.print(Text.assemble(("refused ", "red"), str(problem)), highlight=False,
                          soft_wrap=True)
        console.print(f"{len(result.problems)} problem(s); nothing was imported")
        sys.exit(1)
    console.print(_counts_table(result))
    click.echo(f"roster imported from {path}: {students} active students, {linked} of them "
               "linked to learners seen in events (by e-mail or actor id)")
