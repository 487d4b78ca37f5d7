"""`timeledger project`: run the projector (serve starts one; PostgreSQL may run more anywhere)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from timeledger.cli.options import database_options, resolve_db_url
from timeledger.cli.stop_signals import StopSignals
from timeledger.server.collector_pace import pace_collector_for_serving
from timeledger.server.platform import open_platform
from timeledger.server.settings import Settings
from timeledger.server.store.migrate import SchemaError

#: How long an idle projector waits before it looks at the log again (its lag when idle).
IDLE_WAIT_SECONDS = 0.02


@click.command("project")
@database_options
@click.option("--until-caught-up", is_flag=True,
              help="Project what the log holds now, then exit.")
@click.option("--parent-pid", type=int, default=None, hidden=True,
              help="Exit when this process is gone (serve's own projector).")
def project(db_url: str | None, data_dir: Path | None, until_caught_up: bool,
            parent_pid: int | None) -> None:
    """Apply projections from the event log: runs, learner days, XP, gradebook and flags.

    `timeledger serve` starts one. On PostgreSQL any number may run at once, on any machines:
    each takes partitions of learners in turn, and no two ever project the same learner."""
    url, folder = resolve_db_url(db_url, data_dir)
    try:
        platform = open_platform(Settings(db_url=url, data_dir=folder), create_schema=False)
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    projector = platform.projector()
    pace_collector_for_serving()
    try:
        if until_caught_up:
            click.echo(f"projected {projector.project_until_caught_up()} log row(s)")
            return
        stop = StopSignals().install()

        def keep_going() -> bool:
            return not stop.requested and (parent_pid is None or os.getppid() == parent_pid)

        projector.run(keep_going, stop.wait, idle_wait=IDLE_WAIT_SECONDS)
    finally:
        platform.close()
