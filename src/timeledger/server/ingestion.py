"""Append checked envelopes to the event log, exactly once: the request path's whole work."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.caliper.envelope import Envelope, ScreenedEvent, TimebackRef
from timeledger.caliper.times import TimeFormatError, parse_utc
from timeledger.server.group_commit import GroupCommit
from timeledger.server.store.database import writer_turn
from timeledger.server.store.event_appends import (
    APPENDED_COLUMNS,
    Appended,
    AppendedRow,
    append_jobs,
    append_values,
)
from timeledger.server.store.event_bodies import DIGEST_NOT_STORED, content_digest
from timeledger.server.store.job_result_rows import encode_outcomes
from timeledger.server.store.log_positions import Needs, Position, needs_to_json
from timeledger.server.store.partitions import learner_partition, partition_count

#: The append decides the first three; the projector may then turn `stored` into
#: duplicate_window, duplicate_completion or unprojectable (pipeline/job_results.py).
ResultStatus = Literal["stored", "duplicate", "conflict", "duplicate_window",
                       "duplicate_completion", "unprojectable"]


class EventResult(NamedTuple):
    """One event's answer in a job (a tuple: an envelope makes one per event)."""

    external_id: str
    allocated_id: str | None
    status: ResultStatus
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"allocatedId": self.allocated_id, "externalId": self.external_id,
                               "status": self.status}
        if self.message:
            out["message"] = self.message
        return out


@dataclass(frozen=True, slots=True)
class JobResult:
    job_id: str
    results: list[EventResult] = field(default_factory=list)

    def count(self, *statuses: ResultStatus) -> int:
        return sum(1 for r in self.results if r.status in statuses)


def _item_id(item: dict[str, Any]) -> str:
    """The item's own id; an entity without one (a selector, say) is named by its content."""
    ident = item.get("id")
    return ident if isinstance(ident, str) else f"urn:timeledger:anonymous:{content_digest(item)}"


def _event_time(item: dict[str, Any]) -> datetime | None:
    try:
        return parse_utc(item.get("eventTime"))
    except TimeFormatError:
        return None


def _actor(item: dict[str, Any]) -> tuple[str | None, str | None]:
    actor = item.get("actor")
    if isinstance(actor, str):
        return actor, None
    if isinstance(actor, dict):
        email = actor.get("email")
        return actor.get("id"), email.strip().lower() if isinstance(email, str) else None
    return None, None


def _row(item: dict[str, Any], run_id: str | None, partition: int | None,
         sensor: str, received_at: datetime, job_id: str) -> AppendedRow:
    """The item's row (event_appends.APPENDED_COLUMNS)."""
    is_event = "action" in item or partition is not None
    actor_id, email = _actor(item)
    profile = item.get("profile")
    return (_item_id(item), DIGEST_NOT_STORED, "event" if is_event else "entity",
            str(item.get("type")), item.get("action") if is_event else None,
            profile if isinstance(profile, str) else None,
            actor_id if isinstance(actor_id, str) else None, email, run_id, _event_time(item),
            sensor, received_at, job_id, orjson.dumps(item).decode(), partition)


def _timeback_row(item: dict[str, Any], ref: TimebackRef, partition: int, sensor: str,
                  received_at: datetime, job_id: str) -> AppendedRow:
    """`_row` for a checked Timeback event, whose ref holds its learner and run: its id, type,
    action, profile and actor id are strings and its eventTime within the years read (the wire
    rules say so; a test holds the two equal on every fixture)."""
    return (item["id"], DIGEST_NOT_STORED, "event", item["type"], item["action"],
            item["profile"], item["actor"]["id"], ref.learner_email, ref.run_id,
            parse_utc(item["eventTime"]), sensor, received_at, job_id,
            orjson.dumps(item).decode(), partition)


def _screened_row(event: ScreenedEvent, ref: TimebackRef, partition: int, sensor: str,
                  received_at: datetime, job_id: str) -> AppendedRow:
    """`_row` for an event the screen read: its fields and text as the screen gives them."""
    return (event.event_id, DIGEST_NOT_STORED, "event", event.type, event.action, event.profile,
            event.actor_id, ref.learner_email, ref.run_id, event.event_time, sensor, received_at,
            job_id, event.text, partition)


_EVENT_ID, _PARTITION = APPENDED_COLUMNS.index("event_id"), APPENDED_COLUMNS.index("partition")
#: A row's result as the append decides it: (seq, status, message).
Outcome = tuple[int, ResultStatus, str | None]
_DUPLICATE_MESSAGE = "Already stored with the same body"
_CONFLICT_MESSAGE = ("An event with this id was stored with a different body; this one was not "
                     "stored")


# Deadlock detected, serialization failure: concurrent writers on PostgreSQL can lose either,
# e.g. two envelopes carrying the same event ids in different orders.
RETRYABLE_SQLSTATES = ("40P01", "40001")
INGEST_ATTEMPTS = 5


def _sqlstate(exc: sa.exc.DBAPIError) -> str | None:
    state = getattr(exc.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


# Envelopes waiting together are written in one transaction, up to this many items.
GROUP_COMMIT_ITEMS = 2000


@dataclass(frozen=True, slots=True)
class _Submission:
    envelope: Envelope
    client_id: str | None


class Ingestor:
    """Appends envelopes. Event ids are unique in the store, so a resend is a no-op success.

    Concurrent envelopes are group-committed: one transaction appends them all, and each caller
    gets its own job once that transaction has committed. Projection happens afterwards, in the
    projector (pipeline/projector.py); the job says when it is done."""

    def __init__(self, engine: Engine, now: Callable[[], datetime],
                 after_commit: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._now = now
        self._after_commit = after_commit
        self._partitions = partition_count(engine.dialect.name)
        self._group: GroupCommit[_Submission, JobResult] = GroupCommit(
            self._write, lambda s: len(s.envelope.data), GROUP_COMMIT_ITEMS)

    def ingest(self, envelope: Envelope, client_id: str | None = None) -> JobResult:
        return self._group.submit(_Submission(envelope, client_id))

    def ingest_many(self, envelopes: Sequence[Envelope],
                    client_id: str | None = None) -> list[JobResult]:
        """One job per envelope, written together (in one transaction where the budget allows)."""
        return self._group.submit_many([_Submission(e, client_id) for e in envelopes])

    def _write(self, batch: Sequence[_Submission]) -> list[JobResult]:
        for attempt in range(1, INGEST_ATTEMPTS + 1):
            try:
                return self._write_once(batch)
            except sa.exc.DBAPIError as exc:
                # PostgreSQL aborted the transaction (deadlock, serialization): it changed
                # nothing, so running it again is safe.
                if attempt == INGEST_ATTEMPTS or _sqlstate(exc) not in RETRYABLE_SQLSTATES:
                    raise
        raise AssertionError("unreachable")

    def _partition(self, ref: TimebackRef) -> int:
        partitions = self._partitions
        return 0 if partitions == 1 else learner_partition(ref.learner_email, partitions)

    def _rows(self, envelope: Envelope, received_at: datetime,
              job_id: str) -> list[AppendedRow]:
        refs = envelope.refs
        sensor = envelope.sensor
        if envelope.screened is not None:  # every item a plain Timeback event, with its ref
            return [_screened_row(event, refs[index], self._partition(refs[index]), sensor,
                                  received_at, job_id)
                    for index, event in enumerate(envelope.screened)]
        rows = []
        for index, item in enumerate(envelope.data):
            ref = refs.get(index)
            if ref is None:
                rows.append(_row(item, None, None, sensor, received_at, job_id))
            else:
                rows.append(_timeback_row(item, ref, self._partition(ref), sensor, received_at,
                                          job_id))
        return rows

    def _write_once(self, batch: Sequence[_Submission]) -> list[JobResult]:
        received_at = self._now()
        job_ids = [str(uuid.uuid4()) for _ in batch]
        rows: list[AppendedRow] = []
        for submission, job_id in zip(batch, job_ids, strict=True):
            rows.extend(self._rows(submission.envelope, received_at, job_id))
        with writer_turn(self._engine), self._engine.begin() as conn:
            appended = append_values(conn, rows)
            outcomes = _outcomes(rows, lambda: [item for submission in batch
                                                for item in submission.envelope.data], appended)
            jobs_out: list[JobResult] = []
            job_rows: list[dict[str, Any]] = []
            offset = 0
            for submission, job_id in zip(batch, job_ids, strict=True):
                end = offset + len(submission.envelope.data)
                mine = outcomes[offset:end]
                results = [EventResult(row[_EVENT_ID], str(seq), status, message)
                           for row, (seq, status, message) in zip(rows[offset:end], mine,
                                                                  strict=True)]
                last: dict[int, int] = {}  # each partition's last stored seq (one xact)
                for row, (seq, status, _message) in zip(rows[offset:end], mine, strict=True):
                    partition = row[_PARTITION]
                    if status == "stored" and partition is not None \
                            and seq > last.get(partition, 0):
                        last[partition] = seq
                needs: Needs = {partition: Position(appended.xact, seq)
                                for partition, seq in last.items()}
                jobs_out.append(JobResult(job_id, results))
                job_rows.append({
                    "id": job_id, "client_id": submission.client_id,
                    "state": "waiting" if needs else "completed",
                    "created_at": received_at,
                    "processed_on": None if needs else received_at,
                    "results": encode_outcomes(mine),
                    "needs": needs_to_json(needs),
                })
                offset = end
            append_jobs(conn, job_rows)
        if self._after_commit is not None:
            self._after_commit()
        return jobs_out


def _outcomes(rows: Sequence[AppendedRow], read_items: Callable[[], Sequence[dict[str, Any]]],
              appended: Appended) -> list[Outcome]:
    """Each row's result: stored, or the seq of its id's first event and whether this one has
    the same body (duplicate) or not (conflict). The items (one per row) are read only then."""
    seqs = appended.seqs
    if not appended.existing and len(seqs) == len(rows):  # every row new, every id once
        return [(seqs[row[_EVENT_ID]], "stored", None) for row in rows]
    items = read_items()
    outcomes: list[Outcome] = []
    claimed: set[str] = set()
    first_item: dict[str, dict[str, Any]] = {}
    for row, item in zip(rows, items, strict=True):
        event_id = row[_EVENT_ID]
        first_item.setdefault(event_id, item)
        if event_id in seqs and event_id not in claimed:
            claimed.add(event_id)
            outcomes.append((seqs[event_id], "stored", None))
            continue
        if event_id in appended.existing:
            seq, digest = appended.existing[event_id]
        else:  # the same id twice inside this group
            seq, digest = seqs[event_id], content_digest(first_item[event_id])
        if digest == content_digest(item):
            outcomes.append((seq, "duplicate", _DUPLICATE_MESSAGE))
        else:
            outcomes.append((seq, "conflict", _CONFLICT_MESSAGE))
    return outcomes
