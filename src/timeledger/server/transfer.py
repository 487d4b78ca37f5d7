"""Batch import (JSON envelopes or NDJSON events) and NDJSON export, through the ingest path."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

import orjson
import sqlalchemy as sa

from timeledger.caliper.envelope import Envelope, check_envelope, loads
from timeledger.caliper.errors import CaliperError, Problem
from timeledger.caliper.timeback import CALIPER_CONTEXT
from timeledger.caliper.times import TimeFormatError, format_utc, parse_utc
from timeledger.server.ingestion import JobResult
from timeledger.server.pipeline.calendar import zone_of
from timeledger.server.pipeline.job_results import job_status
from timeledger.server.platform import Platform
from timeledger.server.store.event_bodies import BODY_COLUMNS, event_body
from timeledger.server.store.event_selection import event_conditions
from timeledger.server.store.schema import events

IMPORT_SENSOR = "urn:timeledger:import"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class Rejection:
    where: str  # file:line or file:envelope[n]
    path: str
    message: str


@dataclass
class ImportSummary:
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)

    def add_job(self, job: JobResult) -> None:
        self.job_ids.append(job.job_id)

    def count_results(self, platform: Platform) -> None:
        """Count each event's final result, once the projector has passed every job."""
        for job_id in self.job_ids:
            status = job_status(platform.engine, job_id, platform.now())
            statuses = [r["status"] for r in status.results] if status else []
            self.accepted += statuses.count("stored")
            self.duplicates += sum(statuses.count(s) for s in (
                "duplicate", "duplicate_window", "duplicate_completion"))
            self.conflicts += statuses.count("conflict")


@dataclass(frozen=True, slots=True)
class _Unit:
    """One thing to check on its own: a whole envelope, or one NDJSON event."""

    where: str
    body: Any
    is_envelope: bool


EXPECTED_INPUT = ("expected a Caliper envelope, one event, a JSON array of envelopes or events, "
                  "or NDJSON (one event per line)")


def _units(path: Path) -> Iterator[_Unit]:
    text = path.read_bytes()
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
             if line.strip()]
    whole_error = ""
    if text.lstrip().startswith((b"{", b"[")):
        try:
            whole = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            whole, whole_error = None, str(exc)
        if isinstance(whole, dict) and (_is_envelope(whole) or len(lines) > 1):
            yield _Unit(f"{path.name}", whole, _is_envelope(whole))  # an envelope or one event
            return
        if isinstance(whole, list):
            for index, item in enumerate(whole):
                yield _Unit(f"{path.name}[{index}]", item, _is_envelope(item))
            return
    units = [_line_unit(f"{path.name}:{number}", line) for number, line in lines]
    if len(units) > 1 and not any(isinstance(unit.body, dict) for unit in units):
        # not one JSON document and no line an object: not NDJSON either, so one error says so
        reason = whole_error or units[0].body
        yield _Unit(path.name, CaliperError([Problem("", f"{EXPECTED_INPUT}; {reason}")]), False)
        return
    yield from units


def _line_unit(where: str, line: bytes) -> _Unit:
    try:
        item = loads(line)
    except CaliperError as exc:
        return _Unit(where, exc, False)
    return _Unit(where, item, _is_envelope(item))


def _is_envelope(item: Any) -> bool:
    """An envelope carries `dataVersion` and `data`; a Caliper event has neither."""
    return isinstance(item, dict) and ("dataVersion" in item or "data" in item)


def count_units(paths: list[Path]) -> int:
    return sum(1 for path in paths for _ in _units(path))


def import_files(platform: Platform, paths: list[Path], batch_size: int = 500,
                 on_progress: Callable[[int], None] = lambda _n: None) -> ImportSummary:
    """Validate each envelope (or each NDJSON event) on its own; store the good, report the bad."""
    summary = ImportSummary()
    pending: list[dict[str, Any]] = []
    limit = min(batch_size, platform.settings.max_events_per_envelope)

    def flush() -> None:
        if pending:
            envelope = check_envelope(_wrap(pending), max_events=limit)
            summary.add_job(platform.ingestor.ingest(envelope, client_id="import"))
            pending.clear()

    for path in paths:
        for unit in _units(path):
            on_progress(1)
            if isinstance(unit.body, CaliperError):
                first = unit.body.problems[0]
                summary.rejected.append(Rejection(unit.where, first.path, first.message))
                continue
            try:
                checked: Envelope = check_envelope(
                    unit.body if unit.is_envelope else _wrap([unit.body]),
                    max_events=platform.settings.max_events_per_envelope)
            except CaliperError as exc:
                first = exc.problems[0]
                path_in_unit = first.path
                if not unit.is_envelope:
                    path_in_unit = path_in_unit.removeprefix("data[0]").lstrip(".")
                summary.rejected.append(Rejection(unit.where, path_in_unit, first.message))
                continue
            if unit.is_envelope:
                flush()
                summary.add_job(platform.ingestor.ingest(checked, client_id="import"))
            else:
                pending.append(unit.body)
                if len(pending) >= limit:
                    flush()
    flush()
    platform.project_pending()
    summary.count_results(platform)
    return summary


def _wrap(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"sensor": IMPORT_SENSOR, "sendTime": format_utc(datetime.now(UTC)),
            "dataVersion": CALIPER_CONTEXT, "data": list(items)}


def export_bound(value: str, timezone: str, *, end: bool) -> datetime:
    """An export's `--from` or `--to`: a full UTC timestamp, or a YYYY-MM-DD day in the platform's
    zone, meaning its start for `--from` and its end (the next day's start) for `--to`."""
    if _DAY.fullmatch(value) is None:
        return parse_utc(value)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise TimeFormatError(f"Invalid date {value!r}: no such day") from None
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=zone_of(timezone)).astimezone(UTC)


def export_events(platform: Platform, out: IO[bytes], *, learner: str | None = None,
                  event_type: str | None = None, since: datetime | None = None,
                  until: datetime | None = None, page_size: int = 5000) -> int:
    """Write stored events as NDJSON in the order they were stored; returns how many."""
    written = 0
    last_seq = 0
    while True:
        query = (sa.select(events.c.seq, *BODY_COLUMNS)
                 .where(events.c.seq > last_seq, *event_conditions(
                     learner=learner, event_type=event_type, since=since, until=until))
                 .order_by(events.c.seq).limit(page_size))
        with platform.engine.connect() as conn:
            rows = list(conn.execute(query))
            lines = [event_body(conn, row).encode() + b"\n" for row in rows]
        if not rows:
            return written
        out.writelines(lines)
        written += len(rows)
        last_seq = rows[-1].seq
