"""Options several commands share: where the platform's database is, and its time zone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import platformdirs

from timeledger.server.store.database import sqlite_url

F = TypeVar("F", bound=Callable[..., Any])


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("timeledger", appauthor=False))


def database_options(func: F) -> F:
    func = click.option("--db", "db_url", envvar="TIMELEDGER_DB", default=None,
                        help="Database URL (sqlite:///... or postgresql://...). "
                             "Overrides --data-dir.")(func)
    func = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                        envvar="TIMELEDGER_DATA_DIR", default=None,
                        help="Folder for the embedded SQLite file "
                             "(default: the per-user data dir).")(func)
    return func


def require_psycopg() -> None:
    """The platform on PostgreSQL needs psycopg, an extra: say which one instead of a traceback."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise click.ClickException("a PostgreSQL database needs psycopg: "
                                   "pip install 'timeledger[postgres]'") from None


def resolve_db_url(db_url: str | None, data_dir: Path | None) -> tuple[str, Path | None]:
    if db_url:
        if db_url.startswith("postgres"):
            require_psycopg()
        return db_url, data_dir
    folder = data_dir or default_data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return sqlite_url(folder), folder


def _check_timezone(_ctx: click.Context, _param: click.Parameter,
                    value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {value!r}") from None
    return value


def timezone_option(func: F) -> F:
    """`--timezone`: the IANA zone learner days are counted in (the server's and rebuild's)."""
    return click.option("--timezone", default=None, envvar="TIMELEDGER_TIMEZONE",
                        callback=_check_timezone,
                        help="Time zone learner days are counted in (IANA name). A new store "
                             "keeps it (default UTC); after that it must match, and only "
                             "`rebuild --timezone` changes it.")(func)


def timezone_settings(timezone: str | None) -> dict[str, Any]:
    """The Settings fields for a `--timezone` value (None: whatever the store keeps)."""
    return {"timezone": timezone or "UTC", "timezone_from_user": timezone is not None}
