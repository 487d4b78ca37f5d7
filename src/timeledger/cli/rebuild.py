"""`timeledger rebuild`: drop the projections and replay every Timeback event through them."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from timeledger.cli.options import (
    database_options,
    resolve_db_url,
    timezone_option,
    timezone_settings,
)
from timeledger.server.pipeline import PipelineSettings
from timeledger.server.pipeline.rebuild import DEFAULT_BATCH_SIZE, count_timeback_events, rebuild
from timeledger.server.platform import open_platform
from timeledger.server.settings import Settings
from timeledger.server.store.platform_settings import TIMEZONE_KEY, write_setting


@click.command("rebuild")
@database_options
@timezone_option
@click.option("--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True,
              type=click.IntRange(min=1), help="Events replayed per statement batch.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def rebuild_command(db_url: str | None, data_dir: Path | None, timezone: str | None,
                    batch_size: int,
                    quiet: bool) -> None:
    """Rebuild runs, learner days, XP, gradebook and flags from the events table.

    Events and the course registry are kept. Runs in one transaction: readers see the old
    projections until it commits."""
    url, folder = resolve_db_url(db_url, data_dir)
    platform = open_platform(Settings(db_url=url, data_dir=folder, **timezone_settings(timezone)),
                             allow_timezone_change=True)
    zone = platform.settings.timezone
    console = Console(stderr=True)
    try:
        with platform.engine.connect() as conn:
            total = count_timeback_events(conn)
        with Progress(TextColumn("replaying events"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, disable=quiet) as bar:
            task = bar.add_task("replay", total=total)
            report = rebuild(platform.engine, PipelineSettings(timezone=zone), batch_size,
                             progress=lambda n: bar.advance(task, n), now=platform.now)
        with platform.engine.begin() as conn:
            write_setting(conn, TIMEZONE_KEY, zone)
    finally:
        platform.close()
    click.echo(f"rebuilt projections from {report.replayed} Timeback event(s) ({zone})")
    if report.unreadable:
        click.echo(f"skipped {len(report.unreadable)} stored event(s) that no longer parse: "
                   + ", ".join(str(seq) for seq in report.unreadable[:20]), err=True)

