"""What a store costs on disk: bytes per event, and the tables and indexes that hold them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa


def checkpoint(db_path: Path | str) -> None:
    """Move the WAL into the database file and empty it, so the file size is the store's size."""
    db = sqlite3.connect(db_path)
    try:
        busy, _log, _moved = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise RuntimeError(f"{db_path}: a reader kept the WAL checkpoint from finishing")
    finally:
        db.close()


def bytes_per_event(db_path: Path | str) -> float:
    """The database file's size after a TRUNCATE checkpoint, over the number of stored events."""
    checkpoint(db_path)
    db = sqlite3.connect(db_path)
    try:
        count = int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        db.close()
    if not count:
        raise ValueError(f"{db_path} stores no events")
    return Path(db_path).stat().st_size / count


def bytes_per_event_by_object(db_path: Path | str) -> dict[str, float]:
    """Each table's and index's pages (the `dbstat` table) over the number of stored events,
    largest first; `(free pages)` is what compaction freed for the rows that follow."""
    checkpoint(db_path)
    db = sqlite3.connect(db_path)
    try:
        count = db.execute("SELECT count(*) FROM events").fetchone()[0]
        sizes = {name: total / count for name, total in db.execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")}
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        free_pages = db.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        db.close()
    sizes["(free pages)"] = free_pages * page_size / count
    return dict(sorted(sizes.items(), key=lambda item: -item[1]))


_PG_OBJECTS = """
SELECT c.relname, pg_relation_size(c.oid)
       + coalesce((SELECT pg_total_relation_size(c.reltoastrelid) WHERE c.reltoastrelid <> 0), 0)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')
"""


def pg_bytes_per_event_by_object(engine: sa.Engine) -> dict[str, float]:
    """PostgreSQL: each table's (with its TOAST) and index's size over the stored events."""
    with engine.connect() as conn:
        count = int(conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one())
        sizes = {name: int(size) / count for name, size in conn.execute(sa.text(_PG_OBJECTS))}
    return dict(sorted(sizes.items(), key=lambda item: -item[1]))


def pg_bytes_per_event(engine: sa.Engine) -> float:
    """PostgreSQL: every table, TOAST table and index of the store, over the stored events."""
    return sum(pg_bytes_per_event_by_object(engine).values())
