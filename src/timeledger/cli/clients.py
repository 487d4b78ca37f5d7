"""`timeledger clients create|list|revoke`: API credentials for apps that send or read."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from timeledger.caliper.times import format_utc
from timeledger.cli.options import database_options, resolve_db_url
from timeledger.server.platform import open_platform, utc_now
from timeledger.server.settings import Settings
from timeledger.server.store.credentials import SCOPES, CredentialStore, UnknownScope


def _store(db_url: str | None, data_dir: Path | None) -> CredentialStore:
    url, folder = resolve_db_url(db_url, data_dir)
    return open_platform(Settings(db_url=url, data_dir=folder)).credentials


@click.group()
def clients() -> None:
    """Manage API clients (OAuth2 client credentials)."""


@clients.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES),
              help="Repeat for several; default: all scopes.")
@click.option("--json", "as_json", is_flag=True, help="Print {client_id, client_secret} as JSON.")
@database_options
def create(name: str, scopes: tuple[str, ...], as_json: bool, db_url: str | None,
           data_dir: Path | None) -> None:
    """Create a client; its secret is printed once and stored only as a hash."""
    try:
        issued = _store(db_url, data_dir).create_client(name, scopes or SCOPES, utc_now())
    except UnknownScope as exc:
        raise click.BadParameter(str(exc), param_hint="--scope") from None
    if as_json:
        click.echo(json.dumps({"client_id": issued.client_id,
                               "client_secret": issued.client_secret}))
    else:
        click.echo(f"client id:     {issued.client_id}\nclient secret: {issued.client_secret}")


@clients.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@database_options
def list_(as_json: bool, db_url: str | None, data_dir: Path | None) -> None:
    """List clients with their scopes."""
    found = _store(db_url, data_dir).list_clients()
    if as_json:
        click.echo(json.dumps([{
            "client_id": c.client_id, "name": c.name, "scopes": list(c.scopes),
            "created_at": format_utc(c.created_at),
            "revoked_at": format_utc(c.revoked_at) if c.revoked_at else None,
        } for c in found]))
        return
    table = Table("client id", "name", "scopes", "created", "revoked")
    for c in found:
        table.add_row(c.client_id, c.name, " ".join(c.scopes), format_utc(c.created_at),
                      format_utc(c.revoked_at) if c.revoked_at else "")
    Console().print(table)


@clients.command("revoke")
@click.argument("client_id")
@database_options
def revoke(client_id: str, db_url: str | None, data_dir: Path | None) -> None:
    """Revoke a client and every token it holds."""
    if not _store(db_url, data_dir).revoke(client_id, utc_now()):
        raise click.ClickException(f"no active client {client_id!r}")
    click.echo(f"revoked {client_id}")

