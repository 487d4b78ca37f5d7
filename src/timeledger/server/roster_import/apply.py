"""`timeledger roster import`: check a whole export, then apply it in one transaction or not at all.

Per file, the manifest says bulk or delta. Bulk: the file is the complete current set, so a
stored record it does not list becomes `tobedeleted`. Delta: each row changes one record, and a
row older (by dateLastModified) than the stored record is skipped as stale. Importing the same
export twice changes nothing the second time: a record whose values did not change keeps its
dateLastModified. Every reference (a class's course, an enrollment's user, ...) must name a
record that is active once the import is applied; otherwise that row is refused. Any refused row
refuses the whole import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.server.roster_import.files import FILE_SPECS, NOT_READ, FileSpec
from timeledger.server.roster_import.manifest import read_manifest
from timeledger.server.roster_import.rows import (
    ReadFile,
    RosterRecord,
    RowProblem,
    count_rows,
    read_rows,
)
from timeledger.server.roster_import.sources import RosterSource
from timeledger.server.roster_import.user_roles import settle_user_roles
from timeledger.server.store.database import begin_write

# Any constant will do: it names the lock that keeps two roster imports apart on PostgreSQL.
_PG_ROSTER_LOCK = 0x74_6C_72_6F_73_74_65_72  # "tlroster"
# on_progress(file name, rows read, rows in the file)
Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class TableCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0  # newly tobedeleted: by a delta row, or missing from a bulk file
    stale: int = 0  # delta rows older than the stored record


@dataclass(slots=True)
class RosterImport:
    """What an import did (`applied`) or why it did nothing (`problems`)."""

    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, TableCounts] = field(default_factory=dict)
    applied: bool = False


@dataclass(slots=True)
class _Stored:
    status: str
    date_last_modified: datetime
    values: dict[str, Any]


def _no_progress(_name: str, _done: int, _total: int) -> None:
    return None


def _read_export(source: RosterSource, result: RosterImport,
                 on_progress: Progress) -> dict[str, tuple[FileSpec, str, ReadFile]]:
    names = source.names()
    if "manifest.csv" not in names:
        result.problems.append(RowProblem("manifest.csv", 0, "", "missing: an export starts "
                                          "with its manifest"))
        return {}
    with source.open_text("manifest.csv") as text:
        manifest = read_manifest(text)
    result.problems.extend(manifest.problems)
    read: dict[str, tuple[FileSpec, str, ReadFile]] = {}
    for spec in FILE_SPECS:
        mode = manifest.mode(spec.manifest_key)
        if mode == "absent":
            if spec.name in names:
                result.warnings.append(f"{spec.name}: the manifest says absent; not read")
            continue
        if spec.name not in names:
            result.problems.append(RowProblem(spec.name, 0, "", f"missing, though the manifest "
                                              f"says {spec.manifest_key} is {mode}"))
            continue
        with source.open_text(spec.name) as text:
            total = count_rows(text)
        done = 0

        def advance(name: str = spec.name, total: int = total) -> None:
            nonlocal done
            done += 1
            on_progress(name, done, total)

        on_progress(spec.name, 0, total)
        with source.open_text(spec.name) as text:
            got = read_rows(spec, mode, text, advance)
        result.problems.extend(got.problems)
        result.warnings.extend(got.warnings)
        read[spec.name] = (spec, mode, got)
    for name in sorted(names - {"manifest.csv"} - {spec.name for spec in FILE_SPECS}):
        if name in NOT_READ or name.endswith(".csv"):
            result.warnings.append(f"{name}: not read by this import")
    return read


def _load(conn: sa.Connection, table: sa.Table) -> dict[str, _Stored]:
    value_columns = [c.name for c in table.columns
                     if c.name not in ("sourced_id", "status", "date_last_modified")]
    return {row.sourced_id: _Stored(row.status, row.date_last_modified,
                                    {name: getattr(row, name) for name in value_columns})
            for row in conn.execute(sa.select(table))}


class _TablePlan:
    """One table's stored records, and what the import makes of them."""

    def __init__(self, conn: sa.Connection, spec: FileSpec) -> None:
        self.spec = spec
        self.stored = _load(conn, spec.table)
        self.final: dict[str, _Stored] = dict(self.stored)
        self.counts = TableCounts()
        self.writes: dict[str, _Stored] = {}

    def active_ids(self) -> set[str]:
        return {sid for sid, record in self.final.items() if record.status == "active"}

    def apply_bulk(self, records: list[RosterRecord], now: datetime) -> None:
        listed = {record.sourced_id for record in records}
        for sid, stored in self.stored.items():
            if sid not in listed and stored.status != "tobedeleted":
                self._write(sid, _Stored("tobedeleted", now, stored.values))
                self.counts.deleted += 1
        for record in records:
            self._upsert(record, record.date_last_modified or now)

    def apply_delta(self, records: list[RosterRecord]) -> None:
        for record in records:
            assert record.date_last_modified is not None  # a delta row must carry it
            stored = self.final.get(record.sourced_id)
            if stored is not None and stored.date_last_modified > record.date_last_modified:
                self.counts.stale += 1
            elif record.status == "tobedeleted":
                if stored is not None and stored.status != "tobedeleted":
                    self._write(record.sourced_id, _Stored("tobedeleted",
                                                           record.date_last_modified,
                                                           stored.values))
                    self.counts.deleted += 1
            else:
                self._upsert(record, record.date_last_modified)

    def _upsert(self, record: RosterRecord, modified: datetime) -> None:
        stored = self.final.get(record.sourced_id)
        if stored is None:
            self.counts.added += 1
        elif stored.status == "active" and all(
                stored.values.get(name) == value for name, value in record.values.items()):
            self.counts.unchanged += 1
            return
        else:
            self.counts.updated += 1
        values = {**stored.values, **record.values} if stored is not None else record.values
        self._write(record.sourced_id, _Stored("active", modified, values))

    def _write(self, sid: str, record: _Stored) -> None:
        self.final[sid] = record
        self.writes[sid] = record

    def flush(self, conn: sa.Connection) -> None:
        table = self.spec.table
        rows = [{"sourced_id": sid, "status": r.status, "date_last_modified": r.date_last_modified,
                 **r.values} for sid, r in self.writes.items()]
        inserts = [row for row in rows if row["sourced_id"] not in self.stored]
        updates = [row for row in rows if row["sourced_id"] in self.stored]
        if inserts:
            conn.execute(sa.insert(table), inserts)
        if updates:
            names = [c.name for c in table.columns if c.name != "sourced_id"]
            statement = (sa.update(table)  # every row sets every column: one executemany
                         .where(table.c.sourced_id == sa.bindparam("key"))
                         .values({name: sa.bindparam(f"v_{name}") for name in names}))
            conn.execute(statement, [{"key": row["sourced_id"],
                                      **{f"v_{name}": row.get(name) for name in names}}
                                     for row in updates])


def _check_references(read: dict[str, tuple[FileSpec, str, ReadFile]],
                      plans: dict[str, _TablePlan], problems: list[RowProblem]) -> None:
    active = {name: plan.active_ids() for name, plan in plans.items()}
    for name, (_spec, _mode, got) in read.items():
        active[name] |= got.refused_ids  # refused already; its referrers are not to blame
    for _spec, _mode, got in read.values():
        for record in got.records:
            if record.status != "active":
                continue
            for csv_column, target, ids in record.references:
                for sid in ids:
                    if sid not in active[target]:
                        problems.append(RowProblem(
                            record.file, record.line, csv_column,
                            f"{sid!r} is not an active record of {target} (in this export or "
                            "the roster already imported)"))


def import_roster(engine: Engine, path: Path, now: datetime,
                  on_progress: Progress = _no_progress) -> RosterImport:
    """Check the export at `path` (folder or zip); apply it unless a row was refused."""
    result = RosterImport()
    source = RosterSource(path)
    try:
        read = _read_export(source, result, on_progress)
    finally:
        source.close()
    with begin_write(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_ROSTER_LOCK)))
        plans = {spec.name: _TablePlan(conn, spec) for spec in FILE_SPECS}
        for name, (_spec, mode, got) in read.items():
            if mode == "bulk":
                plans[name].apply_bulk(got.records, now)
            else:
                plans[name].apply_delta(got.records)
        _check_references(read, plans, result.problems)
        result.counts = {name: plans[name].counts for name in read}
        if result.problems:
            return result  # nothing was written: the transaction ends with nothing to commit
        for spec in FILE_SPECS:
            plans[spec.name].flush(conn)
        settle_user_roles(conn)
    result.applied = True
    return result
