"""`timeledger courses load|list`: the course registry (goals, totalLessons) from config files."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from timeledger.cli.options import database_options, resolve_db_url
from timeledger.config import ConfigError, TimebackConfig
from timeledger.server.pipeline.registry import register_courses
from timeledger.server.platform import open_platform, utc_now
from timeledger.server.queries import list_courses
from timeledger.server.settings import Settings


@click.group()
def courses() -> None:
    """Register courses from timeback.config.json files, and list what the platform knows."""


@courses.command("load")
@click.argument("config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--env", default="production", show_default=True,
              help="Which environment's ids and overrides to apply.")
@database_options
def load(config_file: Path, env: str, db_url: str | None, data_dir: Path | None) -> None:
    """Register (or update) every course of CONFIG_FILE with its goals and totalLessons."""
    try:
        config = TimebackConfig.load(config_file, env=env)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    url, folder = resolve_db_url(db_url, data_dir)
    platform = open_platform(Settings(db_url=url, data_dir=folder))
    try:
        with platform.engine.begin() as conn:
            count = register_courses(conn, config, str(config_file.resolve()), utc_now())
    finally:
        platform.close()
    click.echo(f"registered {count} course(s) from {config_file} ({env})")
    for course in config.courses:
        click.echo(f"  {course.course_id}: {course.name}")


@courses.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the courses as JSON.")
@database_options
def list_(as_json: bool, db_url: str | None, data_dir: Path | None) -> None:
    """List registered courses and courses seen in events, with their totals."""
    url, folder = resolve_db_url(db_url, data_dir)
    platform = open_platform(Settings(db_url=url, data_dir=folder))
    try:
        with platform.engine.connect() as conn:
            found = list_courses(conn)
    finally:
        platform.close()
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    table = Table("course id", "name", "subject", "registered", "lessons", "goals", "learners",
                  "active min", "xp")
    for c in found:
        goals = ", ".join(f"{k}={v:g}" for k, v in c["goals"].items())
        table.add_row(c["course_id"], c["name"] or "", c["subject"] or "",
                      "yes" if c["registered"] else "no",
                      "" if c["total_lessons"] is None else str(c["total_lessons"]), goals,
                      str(c["learners"]), f"{c['active_minutes']:g}", f"{c['xp']:g}")
    Console().print(table)

