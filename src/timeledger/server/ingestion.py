"""Turn checked envelopes into stored events and projections, exactly once, in one transaction."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.caliper.envelope import Envelope
from timeledger.caliper.timeback import TimebackFacts, facts_of
from timeledger.caliper.times import TimeFormatError, parse_utc
from timeledger.server.group_commit import GroupCommit
from timeledger.server.pipeline import PipelineSettings, StoredTimebackEvent, project_events
from timeledger.server.store import commit_order
from timeledger.server.store.database import insert
from timeledger.server.store.schema import events, jobs

ResultStatus = Literal["stored", "duplicate", "conflict", "duplicate_window",
                       "duplicate_completion"]


@dataclass(frozen=True, slots=True)
class EventResult:
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


def body_hash(item: Any) -> str:
    """A digest of an event's content that ignores key order and whitespace."""
    return hashlib.sha256(orjson.dumps(item, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _item_id(item: dict[str, Any], digest: str) -> str:
    """The item's own id; an entity without one (a selector, say) is named by its content."""
    ident = item.get("id")
    return ident if isinstance(ident, str) else f"urn:timeledger:anonymous:{digest}"


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


def _row(item: dict[str, Any], is_timeback: bool, facts: TimebackFacts | None,
         sensor: str, received_at: datetime, job_id: str) -> dict[str, Any]:
    is_event = "action" in item or is_timeback
    actor_id, email = _actor(item)
    profile = item.get("profile")
    digest = body_hash(item)
    return {
        "event_id": _item_id(item, digest),
        "body_hash": digest,
        "kind": "event" if is_event else "entity",
        "type": str(item.get("type")),
        "action": item.get("action") if is_event else None,
        "profile": profile if isinstance(profile, str) else None,
        "actor_id": actor_id if isinstance(actor_id, str) else None,
        "learner_email": email,
        "run_id": facts.run_id if facts is not None else None,
        "event_time": _event_time(item),
        "sensor": sensor,
        "received_at": received_at,
        "job_id": job_id,
        "body": orjson.dumps(item).decode(),
    }


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

    Concurrent envelopes are group-committed: one transaction appends and projects them all,
    and each caller gets its own job once that transaction has committed."""

    def __init__(self, engine: Engine, settings: PipelineSettings,
                 now: Callable[[], datetime],
                 after_commit: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._settings = settings
        self._now = now
        self._after_commit = after_commit
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

    def _write_once(self, batch: Sequence[_Submission]) -> list[JobResult]:
        received_at = self._now()
        job_ids = [str(uuid.uuid4()) for _ in batch]
        rows: list[dict[str, Any]] = []
        facts: dict[int, TimebackFacts] = {}
        for submission, job_id in zip(batch, job_ids, strict=True):
            envelope = submission.envelope
            offset = len(rows)
            facts.update((offset + index, facts_of(event))
                         for index, event in envelope.timeback.items())
            rows.extend(_row(item, index in envelope.timeback, facts.get(offset + index),
                             envelope.sensor, received_at, job_id)
                        for index, item in enumerate(envelope.data))
        with self._engine.begin() as conn:
            results = self._append(conn, facts, rows, received_at)
            jobs_out: list[JobResult] = []
            offset = 0
            for submission, job_id in zip(batch, job_ids, strict=True):
                count = len(submission.envelope.data)
                jobs_out.append(JobResult(job_id, results[offset:offset + count]))
                offset += count
            processed_on = self._now()
            conn.execute(jobs.insert(), [{
                "id": job.job_id, "client_id": submission.client_id, "state": "completed",
                "created_at": received_at, "processed_on": processed_on,
                "results": orjson.dumps([r.to_json() for r in job.results]).decode(),
            } for submission, job in zip(batch, jobs_out, strict=True)])
        if self._after_commit is not None:
            self._after_commit()
        return jobs_out

    def _append(self, conn: sa.Connection, facts: dict[int, TimebackFacts],
                rows: list[dict[str, Any]], received_at: datetime) -> list[EventResult]:
        stmt = insert(events, conn.dialect.name).on_conflict_do_nothing(
            index_elements=["event_id"]).returning(events.c.event_id, events.c.seq)
        if commit_order.follows_transactions(conn):
            stmt = stmt.values(xact=commit_order.WRITING_TRANSACTION)
        inserted = {row.event_id: row.seq for row in conn.execute(stmt, rows)} if rows else {}
        # `executemany ... RETURNING` is not available everywhere; fall back per row.
        missing = [r["event_id"] for r in rows if r["event_id"] not in inserted]
        existing: dict[str, tuple[int, str]] = {}
        if missing:
            found = conn.execute(sa.select(events.c.event_id, events.c.seq, events.c.body_hash)
                                 .where(events.c.event_id.in_(missing)))
            existing = {row.event_id: (row.seq, row.body_hash) for row in found}
        results: list[EventResult] = []
        fresh: list[StoredTimebackEvent] = []
        claimed: set[str] = set()
        for index, row in enumerate(rows):
            event_id = row["event_id"]
            if event_id in inserted and event_id not in claimed:
                claimed.add(event_id)
                seq = inserted[event_id]
                results.append(EventResult(event_id, str(seq), "stored"))
                if index in facts:
                    fresh.append(StoredTimebackEvent(seq, facts[index], received_at))
                continue
            if event_id in existing:
                seq, digest = existing[event_id]
            else:  # the same id twice inside this envelope
                seq, digest = inserted[event_id], rows[
                    next(i for i, r in enumerate(rows) if r["event_id"] == event_id)]["body_hash"]
            if digest == row["body_hash"]:
                results.append(EventResult(event_id, str(seq), "duplicate",
                                           "Already stored with the same body"))
            else:
                results.append(EventResult(event_id, str(seq), "conflict",
                                           "An event with this id was stored with a different "
                                           "body; this one was not stored"))
        outcomes = project_events(conn, fresh, self._settings)
        if outcomes:
            by_seq: dict[str, ResultStatus] = {
                str(seq): outcome for seq, outcome in outcomes.items() if outcome != "counted"}
            results = [
                EventResult(r.external_id, r.allocated_id, by_seq[r.allocated_id],
                            _OUTCOME_MESSAGES[by_seq[r.allocated_id]])
                if r.status == "stored" and r.allocated_id in by_seq else r
                for r in results
            ]
        return results


_OUTCOME_MESSAGES: dict[str, str] = {
    "counted": "",
    "duplicate_window": "Stored, but this run's window was already counted; not counted again",
    "duplicate_completion": "Stored, but this run's completion (same attempt and time) was "
                            "already counted; not counted again",
}
