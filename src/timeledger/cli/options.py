"""Options several commands share: where the platform's database is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

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


def resolve_db_url(db_url: str | None, data_dir: Path | None) -> tuple[str, Path | None]:
    if db_url:
        return db_url, data_dir
    folder = data_dir or default_data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return sqlite_url(folder), folder
