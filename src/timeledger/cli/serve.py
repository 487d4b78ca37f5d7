"""`timeledger serve`: run the platform (API and dashboard) on one machine."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path

import click
from fastapi import FastAPI
from rich.console import Console
from rich.panel import Panel

from timeledger.cli.http_server import Closers, connection_options, serve_app, serve_workers
from timeledger.cli.options import (
    database_options,
    resolve_db_url,
    timezone_option,
    timezone_settings,
)
from timeledger.cli.projector_processes import DEFAULT_PROJECTOR_NICE, ProjectorProcesses
from timeledger.server.app import create_app
from timeledger.server.collector_pace import pace_collector_for_serving
from timeledger.server.connection_limits import ConnectionLimits
from timeledger.server.platform import Platform, open_platform
from timeledger.server.settings import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EVENTS, Settings
from timeledger.server.store.database import SQLITE_FILE_NAME
from timeledger.server.store.migrate import SchemaError
from timeledger.server.store.platform_settings import TimezoneMismatch

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WORKER_SETTINGS_ENV = "TIMELEDGER_WORKER_SETTINGS"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="TIMELEDGER_HOST")
@click.option("--port", default=8000, show_default=True, type=int, envvar="TIMELEDGER_PORT")
@database_options
@timezone_option
@click.option("--max-body-bytes", default=DEFAULT_MAX_BODY_BYTES, show_default=True, type=int)
@click.option("--max-events", default=DEFAULT_MAX_EVENTS, show_default=True, type=int,
              help="Most events one envelope may carry.")
@click.option("--require-login", is_flag=True, envvar="TIMELEDGER_REQUIRE_LOGIN",
              help="Dashboard sign-in even on loopback (off loopback it is always required).")
@click.option("--demo", is_flag=True, help="Fill an empty data dir with a realistic school week.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Server processes. On SQLite their appends take turns at the one writer "
                   "(docs/scaling.md); more than the machine's cores gains nothing.")
@click.option("--projectors", default=1, show_default=True, type=click.IntRange(min=0),
              help="Projector processes to start beside the API (0: they run elsewhere, with "
                   "`timeledger project`). More than one needs PostgreSQL.")
@click.option("--projector-nice", default=DEFAULT_PROJECTOR_NICE, show_default=True,
              type=click.IntRange(0, 19),
              help="How much lower the projectors' CPU priority is than the API's (POSIX nice): "
                   "under load, acknowledging comes first and projection takes what is left.")
@click.option("--max-consistent-wait", default=10.0, show_default=True,
              type=click.FloatRange(min=0, max=60),
              help="Seconds a query with consistent=true waits for the projector (then 503).")
@click.option("--bench-baseline", is_flag=True, hidden=True,
              help="Also serve POST /bench/noop (bench/ingest.py's baseline).")
@connection_options
def serve(host: str, port: int, db_url: str | None, data_dir: Path | None, timezone: str | None,
          max_body_bytes: int, max_events: int, require_login: bool, demo: bool,
          workers: int, projectors: int, projector_nice: int, max_consistent_wait: float,
          bench_baseline: bool,
          allowed_hosts: tuple[str, ...],
          limits: ConnectionLimits) -> None:
    """Start the platform: Caliper API, query API and dashboard."""
    url, folder = resolve_db_url(db_url, data_dir)
    if projectors > 1 and url.startswith("sqlite"):
        raise click.BadParameter("more than one projector needs PostgreSQL; SQLite has a single "
                                 "writer", param_hint="--projectors")
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    public_url = f"http://{shown_host}:{port}"
    settings = Settings(db_url=url, data_dir=folder, **timezone_settings(timezone),
                        max_body_bytes=max_body_bytes, max_events_per_envelope=max_events,
                        public_url=public_url,
                        dashboard_open=host in LOOPBACK and not require_login,
                        bind_host=host, allowed_hosts=allowed_hosts,
                        bench_baseline=bench_baseline, max_consistent_wait=max_consistent_wait)
    try:
        platform = open_platform(settings)
    except (SchemaError, TimezoneMismatch) as exc:
        raise click.ClickException(str(exc)) from None
    console = Console(stderr=True)
    first_start = not platform.credentials.list_clients()
    if first_start:
        issued = platform.credentials.create_client(
            "development", ("events:write", "reports:read"), platform.now())
        console.print(Panel.fit(
            f"[bold]Development API client created[/bold] (shown once; secret stored hashed)\n"
            f"  client id:     {issued.client_id}\n"
            f"  client secret: {issued.client_secret}",
            title="timeledger: first start"))
    if demo:
        from timeledger.cli.demo_console import fill_demo_showing_progress

        fill_demo_showing_progress(platform, console)
    console.print(
        f"  Caliper endpoint: {public_url}/caliper/event   (token: {public_url}/oauth2/token)\n"
        f"  Dashboard:        {public_url}/\n"
        f"  Query API:        {public_url}/api/v1   (OpenAPI: {public_url}/openapi.json)\n"
        f"  {_where_data_lives(url, folder)}",
        soft_wrap=True,  # URLs and paths must stay whole when the output is a log file
    )
    if not first_start:
        console.print(_how_to_create_a_client(url, folder), soft_wrap=True)
    projector_processes = ProjectorProcesses(url, projectors, projector_nice).start()
    try:
        _run_api(platform, settings, host, port, workers, limits, projector_processes)
    finally:
        projector_processes.stop()


def _run_api(platform: Platform, settings: Settings, host: str, port: int, workers: int,
             limits: ConnectionLimits, projector_processes: ProjectorProcesses) -> None:
    """Serve until SIGTERM or SIGINT; the store is closed (WAL checkpointed) after the last
    request in flight has finished."""
    if workers > 1:  # each worker process opens its own platform from the environment
        platform.close()
        values = dataclasses.asdict(settings)
        os.environ[WORKER_SETTINGS_ENV] = json.dumps(
            {k: str(v) if isinstance(v, Path) else v for k, v in values.items()})
        serve_workers("timeledger.cli.serve:worker_app", workers=workers, host=host, port=port,
                      limits=limits)
        return
    closers = Closers()
    closers.add("store", platform.close)
    closers.add("projectors", projector_processes.stop)  # closed first: then the store
    pace_collector_for_serving()
    serve_app(create_app(platform, lifespan=closers.lifespan()), host=host, port=port,
              limits=limits, closers=closers)


def worker_app() -> FastAPI:
    """The app of one `--workers` process, from the settings `serve` put in the environment."""
    values = json.loads(os.environ[WORKER_SETTINGS_ENV])
    if values.get("data_dir") is not None:
        values["data_dir"] = Path(values["data_dir"])
    values["allowed_hosts"] = tuple(values.get("allowed_hosts", ()))
    platform = open_platform(Settings(**values), create_schema=False)
    closers = Closers()
    closers.add("store", platform.close)
    pace_collector_for_serving()
    return create_app(platform, lifespan=closers.lifespan())


def _where_data_lives(url: str, folder: Path | None) -> str:
    if url.startswith("sqlite") and folder is not None:
        return (f"Data dir:         {folder.resolve()}   "
                f"(SQLite: {(folder / SQLITE_FILE_NAME).resolve()})")
    return f"Database:         {_display_url(url)}"


def _how_to_create_a_client(url: str, folder: Path | None) -> str:
    """Secrets are shown once, on the first start; later starts say how to make another client."""
    where = (f"--data-dir {shlex.quote(str(folder.resolve()))}"
             if url.startswith("sqlite") and folder is not None else "--db URL")
    return ("  API clients exist already (a secret is shown only when it is created). A new one:\n"
            f"    {_own_command()} clients create NAME --json {where}")


def _own_command() -> str:
    """How this shell can run `timeledger` again: `.venv/bin/timeledger` run from the repo."""
    program = Path(sys.argv[0])
    if program.name != "timeledger":  # python -m timeledger
        return f"{_relative(Path(sys.executable))} -m timeledger"
    return _relative(program)


def _relative(program: Path) -> str:
    absolute = program.absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _display_url(url: str) -> str:
    if "@" in url:  # hide a password in postgresql://user:pw@host/db
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url

