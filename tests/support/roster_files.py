"""The sample OneRoster export, and small edits of a copy of it, for the roster tests."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.support.shared import REPO
from timeledger.server.store.database import create_engine
from timeledger.server.store.migrate import ensure_schema
from timeledger.server.store.roster_tables import ROSTER_TABLES

SAMPLE = REPO / "examples" / "oneroster" / "sample"


def copy_sample(folder: Path) -> Path:
    shutil.copytree(SAMPLE, folder)
    return folder


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> None:
    names = header or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def edit_row(path: Path, sourced_id: str, **values: str) -> int:
    """Set columns of the row with this sourcedId; its line number in the file."""
    rows = read_csv(path)
    index = next(i for i, row in enumerate(rows) if row["sourcedId"] == sourced_id)
    rows[index].update(values)
    write_csv(path, rows)
    return index + 2  # the header is line 1


def set_manifest(folder: Path, **modes: str) -> None:
    """manifest.csv with these file.<name> modes changed (e.g. users="delta")."""
    path = folder / "manifest.csv"
    rows = read_csv(path)
    for row in rows:
        key = row["propertyName"]
        if key.startswith("file.") and key[5:] in modes:
            row["value"] = modes[key[5:]]
    write_csv(path, rows)


def migrated_engine(url: str) -> sa.Engine:
    engine = create_engine(url)
    ensure_schema(engine, auto_create_empty=True)
    return engine


def roster_dump(engine: sa.Engine) -> dict[str, list[dict[str, Any]]]:
    """Every roster table's rows, by sourcedId."""
    with engine.connect() as conn:
        return {table.name: [dict(row._mapping) for row in conn.execute(
            sa.select(table).order_by(table.c.sourced_id))] for table in ROSTER_TABLES}
