"""`timeledger import` and `timeledger export`: the offline-sync path in and NDJSON out."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from timeledger.caliper.times import TimeFormatError
from timeledger.cli.options import (
    database_options,
    resolve_db_url,
    timezone_option,
    timezone_settings,
)
from timeledger.server.platform import open_platform
from timeledger.server.settings import Settings
from timeledger.server.store.platform_settings import TimezoneMismatch
from timeledger.server.transfer import count_units, export_bound, export_events, import_files


@click.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@database_options
@timezone_option
def import_(files: tuple[Path, ...], db_url: str | None, data_dir: Path | None,
            timezone: str | None) -> None:
    """Import JSON envelopes or NDJSON events, with the same checks and idempotency as HTTP."""
    url, folder = resolve_db_url(db_url, data_dir)
    try:
        platform = open_platform(Settings(db_url=url, data_dir=folder,
                                          **timezone_settings(timezone)))
    except TimezoneMismatch as exc:
        raise click.ClickException(str(exc)) from None
    console = Console(stderr=True)
    total = count_units(list(files))
    with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("import", total=total)
        summary = import_files(platform, list(files),
                               on_progress=lambda n: progress.advance(task, n))
    platform.close()
    for rejection in summary.rejected:
        where = f" at {rejection.path}" if rejection.path else ""
        console.print(f"[red]rejected[/red] {rejection.where}{where}: {rejection.message}")
    console.print(f"accepted={summary.accepted} duplicates={summary.duplicates} "
                  f"conflicts={summary.conflicts} rejected={len(summary.rejected)}")
    if summary.rejected or summary.conflicts:
        sys.exit(1)


@click.command("export")
@database_options
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of standard output.")
@click.option("--learner", help="Only this learner (email or actor id).")
@click.option("--type", "event_type", help="Only this Caliper type, e.g. TimeSpentEvent.")
@click.option("--from", "since",
              help="eventTime from: a UTC timestamp, or a day (YYYY-MM-DD: from its start in the "
                   "platform's time zone).")
@click.option("--to", "until",
              help="eventTime before: a UTC timestamp, or a day (YYYY-MM-DD: up to its end in the "
                   "platform's time zone).")
def export(db_url: str | None, data_dir: Path | None, output: Path | None, learner: str | None,
           event_type: str | None, since: str | None, until: str | None) -> None:
    """Write stored events as NDJSON, one event per line, in the order they were stored."""
    url, folder = resolve_db_url(db_url, data_dir)
    platform = open_platform(Settings(db_url=url, data_dir=folder))
    zone = platform.settings.timezone
    try:
        start = export_bound(since, zone, end=False) if since else None
    except TimeFormatError as exc:
        platform.close()
        raise click.BadParameter(str(exc), param_hint="--from") from None
    try:
        end = export_bound(until, zone, end=True) if until else None
    except TimeFormatError as exc:
        platform.close()
        raise click.BadParameter(str(exc), param_hint="--to") from None
    with (output.open("wb") if output else sys.stdout.buffer) as out:
        count = export_events(platform, out, learner=learner, event_type=event_type,
                              since=start, until=end)
    platform.close()
    Console(stderr=True).print(f"exported {count} events")

