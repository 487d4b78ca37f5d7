"""`timeledger admin create|share-link|revoke-link`: who may open the dashboard off loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from timeledger.caliper.times import format_utc
from timeledger.cli.options import database_options, resolve_db_url
from timeledger.server.dashboard.access import AccessError, AccessStore
from timeledger.server.platform import open_platform, utc_now
from timeledger.server.settings import Settings


def _store(db_url: str | None, data_dir: Path | None) -> AccessStore:
    url, folder = resolve_db_url(db_url, data_dir)
    return AccessStore(open_platform(Settings(db_url=url, data_dir=folder)).engine)


@click.group()
def admin() -> None:
    """Dashboard accounts and the links a teacher shares with one student."""


@admin.command("create")
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@click.option("--replace", is_flag=True, help="Set a new password for an existing admin.")
@click.option("--teacher", metavar="SOURCEDID",
              help="Link the account to this roster teacher (timeledger roster import): it "
                   "sees only the learners enrolled in their classes.")
@database_options
def create(username: str, password_stdin: bool, replace: bool, teacher: str | None,
           db_url: str | None, data_dir: Path | None) -> None:
    """Create a dashboard admin (or, with --teacher, a teacher); the password is stored hashed
    (scrypt)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        _store(db_url, data_dir).create_admin(username, password, utc_now(), replace=replace,
                                              teacher=teacher)
    except AccessError as exc:
        raise click.ClickException(str(exc)) from None
    kind = f"teacher {teacher.strip()!r}'s account" if teacher else "admin"
    click.echo(f"{kind} {username.strip()!r} {'updated' if replace else 'created'}")


@admin.command("share-link")
@click.argument("learner_email")
@click.option("--days", default=14.0, show_default=True, type=float,
              help="How long the link works.")
@click.option("--url", "base_url", default="http://127.0.0.1:8000", show_default=True,
              envvar="TIMELEDGER_PUBLIC_URL", help="Where students reach the dashboard.")
@database_options
def share_link(learner_email: str, days: float, base_url: str, db_url: str | None,
               data_dir: Path | None) -> None:
    """Print a link that shows one learner's own pages, and nothing else."""
    try:
        link = _store(db_url, data_dir).create_share_link(learner_email, days, "cli", utc_now())
    except AccessError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{base_url.rstrip('/')}/share/{link.token}")
    click.echo(f"link id {link.link_id} for {link.learner_email}, works until "
               f"{format_utc(link.expires_at)} (revoke: timeledger admin revoke-link "
               f"{link.link_id})", err=True)


@admin.command("revoke-link")
@click.argument("link_id")
@database_options
def revoke_link(link_id: str, db_url: str | None, data_dir: Path | None) -> None:
    """Stop a share link from working, and sign out whoever opened it."""
    if not _store(db_url, data_dir).revoke_share_link(link_id, utc_now()):
        raise click.ClickException(f"no live link {link_id!r}")
    click.echo(f"revoked {link_id}")

