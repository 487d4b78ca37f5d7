"""One CSV file of the export read into records, every bad value reported by file, line and field.

In a bulk file `status` and `dateLastModified` may be blank (the whole file is the current
set); in a delta file each row says `active` or `tobedeleted` and when it last changed. A
`tobedeleted` row needs only its sourcedId.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, TextIO

import orjson

from timeledger.server.roster_import.files import Column, FileSpec

Mode = Literal["bulk", "delta"]
MAX_ROWS_PER_FILE = 2_000_000
MAX_FIELD_CHARS = 10_000  # no OneRoster value comes near; a longer one is a broken file
SOURCED_ID_CHARS = 255
BASE_COLUMNS = ("sourcedId", "status", "dateLastModified")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A value (or a whole row or file) the import refused."""

    file: str
    line: int  # 1 is the header
    field: str  # the CSV column, or "" for the whole row
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: " \
            f"{self.message}"


@dataclass(slots=True)
class RosterRecord:
    """One row, checked: its id, status, change time and the table values it sets."""

    file: str
    line: int
    sourced_id: str
    status: str  # active or tobedeleted
    date_last_modified: datetime | None  # None: a bulk row that left it blank
    values: dict[str, Any] = field(default_factory=dict)
    # (CSV column, file named, ids): what must exist once the import is applied
    references: list[tuple[str, str, list[str]]] = field(default_factory=list)


@dataclass(slots=True)
class ReadFile:
    records: list[RosterRecord] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # the ids of refused rows: a row naming one is not refused again for that
    refused_ids: set[str] = field(default_factory=set)


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 date-time (Z or an offset; none means UTC); ValueError otherwise."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _length_of(spec: FileSpec, column: str) -> int | None:
    length = getattr(spec.table.c[column].type, "length", None)
    return int(length) if length is not None else None


def _list_text(text: str) -> str:
    return ",".join(part.strip() for part in text.split(",") if part.strip())


def _checked_value(spec: FileSpec, column: Column, text: str) -> tuple[Any, str | None]:
    """The stored value of one non-empty cell, or a problem message."""
    value: Any = text
    if column.kind == "enum":
        canonical = {choice.lower(): choice for choice in column.choices}.get(text.lower())
        if canonical is None:
            return None, f"{text!r} is not one of {', '.join(column.choices)}"
        value = canonical
    elif column.kind == "date":
        try:
            value = date.fromisoformat(text).isoformat()
        except ValueError:
            return None, f"{text!r} is not a YYYY-MM-DD date"
        if len(text) != 10:
            return None, f"{text!r} is not a YYYY-MM-DD date"
    elif column.kind == "year":
        if not (len(text) == 4 and text.isdigit()):
            return None, f"{text!r} is not a four-digit year"
    elif column.kind == "boolean":
        if text.lower() not in ("true", "false"):
            return None, f"{text!r} is neither true nor false"
        value = text.lower() == "true"
    elif column.kind == "email":
        local, at, domain = text.partition("@")
        if not at or not local or not domain or "@" in domain or any(c.isspace() for c in text):
            return None, f"{text!r} is not an e-mail address"
    elif column.kind in ("list", "id_list"):
        value = _list_text(text)
    limit = SOURCED_ID_CHARS if column.kind == "id" else _length_of(spec, column.column)
    if isinstance(value, str) and limit is not None and len(value) > limit:
        return None, f"{len(value)} characters, more than the {limit} allowed"
    return value, None


class _RowReader:
    """Checks the rows of one file against its spec, header first."""

    def __init__(self, spec: FileSpec, mode: Mode, header: list[str], out: ReadFile) -> None:
        self.spec, self.mode, self.header, self.out = spec, mode, header, out
        self.seen: dict[str, int] = {}

    def problem(self, line: int, column: str, message: str) -> None:
        self.out.problems.append(RowProblem(self.spec.name, line, column, message))

    def check_header(self) -> bool:
        known = set(BASE_COLUMNS) | {c.csv for c in self.spec.columns} | set(self.spec.ignored)
        ok = True
        for name in BASE_COLUMNS + tuple(c.csv for c in self.spec.columns if c.required):
            if name not in self.header:
                self.problem(1, name, "required column missing from the header")
                ok = False
        for name in self.header:
            if self.header.count(name) > 1:
                self.problem(1, name, "column appears more than once")
                ok = False
            elif name not in known and not name.startswith("metadata."):
                self.out.warnings.append(f"{self.spec.name}: column {name!r} is not OneRoster "
                                         "1.2's; ignored")
        return ok

    def read(self, line: int, cells: list[str]) -> None:
        if len(cells) != len(self.header):
            self.problem(line, "", f"{len(cells)} values for {len(self.header)} columns")
            return
        row = {name: cell.strip() for name, cell in zip(self.header, cells, strict=True)}
        before = len(self.out.problems)
        sourced_id = row["sourcedId"]
        if not sourced_id:
            self.problem(line, "sourcedId", "required")
        elif len(sourced_id) > SOURCED_ID_CHARS:
            self.problem(line, "sourcedId", f"more than {SOURCED_ID_CHARS} characters")
        elif sourced_id in self.seen:
            self.problem(line, "sourcedId", f"{sourced_id!r} is already on line "
                                            f"{self.seen[sourced_id]}")
        else:
            self.seen[sourced_id] = line
        status, modified = self._status(line, row["status"]), self._modified(line, row)
        record = RosterRecord(self.spec.name, line, sourced_id, status or "active", modified)
        if status != "tobedeleted":
            self._values(line, row, record)
        if len(self.out.problems) == before:
            self.out.records.append(record)
        elif sourced_id:
            self.out.refused_ids.add(sourced_id)

    def _status(self, line: int, text: str) -> str | None:
        if self.mode == "bulk":
            if text and text.lower() != "active":
                self.problem(line, "status", f"{text!r} in a bulk file; it is blank or active")
            return "active"
        if text.lower() not in ("active", "tobedeleted"):
            self.problem(line, "status", f"{text!r} is neither active nor tobedeleted "
                                         "(a delta file says which)")
            return None
        return text.lower()

    def _modified(self, line: int, row: dict[str, str]) -> datetime | None:
        text = row["dateLastModified"]
        if not text:
            if self.mode == "delta":
                self.problem(line, "dateLastModified", "required in a delta file")
            return None
        try:
            return parse_timestamp(text)
        except ValueError:
            self.problem(line, "dateLastModified", f"{text!r} is not an ISO 8601 date-time")
            return None

    def _values(self, line: int, row: dict[str, str], record: RosterRecord) -> None:
        for column in self.spec.columns:
            text = row.get(column.csv, "")
            if not text:
                if column.required:
                    self.problem(line, column.csv, "required")
                record.values[column.column] = None
                continue
            value, message = _checked_value(self.spec, column, text)
            if message is not None:
                self.problem(line, column.csv, message)
                continue
            record.values[column.column] = value
            if column.refers_to is not None:
                record.references.append((column.csv, column.refers_to, value.split(",")))
        if "email" in record.values:
            email = record.values["email"]
            record.values["email_lower"] = email.lower() if email else None
        start, end = record.values.get("start_date"), record.values.get("end_date")
        if start and end and end < start:
            self.problem(line, "endDate", f"{end} is before startDate {start}")
        extra = {name[len("metadata."):]: text for name, text in row.items()
                 if name.startswith("metadata.") and text}
        record.values["metadata_json"] = orjson.dumps(extra).decode() if extra else None


def count_rows(text: TextIO) -> int:
    """Rows after the header (for the progress bar; a quoted newline counts once too many)."""
    return max(0, sum(1 for _ in text) - 1)


def read_rows(spec: FileSpec, mode: Mode, text: TextIO,
              on_row: Callable[[], None] = lambda: None) -> ReadFile:
    """Every row of one file checked; the good ones as records, the bad ones as problems."""
    out = ReadFile()
    reader = csv.reader(_bounded_lines(text), strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
        if not header:
            out.problems.append(RowProblem(spec.name, 1, "", "empty file: no header"))
            return out
        rows = _RowReader(spec, mode, header, out)
        if not rows.check_header():
            return out
        for count, cells in enumerate(reader, start=1):
            if count > MAX_ROWS_PER_FILE:
                out.problems.append(RowProblem(spec.name, reader.line_num, "",
                                               f"more than {MAX_ROWS_PER_FILE:,} rows"))
                return out
            if cells:
                rows.read(reader.line_num, cells)
            on_row()
    except csv.Error as exc:
        out.problems.append(RowProblem(spec.name, reader.line_num, "", f"not CSV: {exc}"))
    except UnicodeDecodeError as exc:
        out.problems.append(RowProblem(spec.name, reader.line_num + 1, "",
                                       f"not UTF-8 text: {exc.reason}"))
    except _LongField:
        out.problems.append(RowProblem(spec.name, reader.line_num + 1, "",
                                       f"a line longer than {MAX_FIELD_CHARS:,} characters"))
    return out


class _LongField(Exception):
    pass


def _bounded_lines(text: TextIO) -> Iterator[str]:
    for line in text:
        if len(line) > MAX_FIELD_CHARS:
            raise _LongField
        yield line
