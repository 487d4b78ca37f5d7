"""An in-process platform on a temp SQLite file, and short builders for Timeback events."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa

from timeledger.caliper.builders import ActivityRef, Learner, completed_event, envelope
from timeledger.caliper.envelope import Envelope, parse_envelope
from timeledger.caliper.metrics import Metrics
from timeledger.server.ingestion import EventResult, JobResult
from timeledger.server.pipeline.job_results import job_status
from timeledger.server.platform import Platform, open_platform
from timeledger.server.settings import Settings
from timeledger.server.store.database import sqlite_url

T = TypeVar("T")
SENSOR = "https://app.example.com"


def at(text: str) -> datetime:
    """`2025-01-13T10:00:00` (UTC) as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def activity(slug: str = "fractions-1", course_id: str = "math-g3") -> ActivityRef:
    return ActivityRef(url=f"{SENSOR}/activities/{course_id}/{slug}", name=slug.title(),
                       subject="Math", app_name="Example App", course_id=course_id,
                       course_name=f"Course {course_id}")


def actor(email: str, actor_id: str | None = None) -> dict[str, Any]:
    return Learner(email, actor_id or f"id-{email.lower()}").actor(SENSOR)


def heartbeat(email: str, run_id: str | None, start: datetime, active_s: float,
              inactive_s: float = 0.0, *, act: ActivityRef | None = None,
              window: bool = True, end: datetime | None = None,
              actor_id: str | None = None) -> dict[str, Any]:
    """One TimeSpentEvent for [start, end] (end defaults to start + active + inactive). Without
    `window`, no startDate/endDate (as Timeback's own SDKs send), eventTime = end."""
    end = end or start + timedelta(seconds=active_s + inactive_s)
    items: list[dict[str, Any]] = [{"type": "active", "value": active_s}]
    if inactive_s:
        items.append({"type": "inactive", "value": inactive_s})
    if window:
        for item in items:
            item.update(startDate=_fmt(start), endDate=_fmt(end))
    event = _base("TimeSpentEvent", "SpentTime", email, run_id, end, act, actor_id)
    event["generated"] = {"id": f"urn:uuid:{uuid.uuid4()}",
                          "type": "TimebackTimeSpentMetricsCollection", "items": items}
    return event


def completion(email: str, run_id: str | None, when: datetime, xp: float, *,
               total: int | None = None, correct: int | None = None,
               mastered: int | None = None, pct: float | None = None, attempt: int | None = 1,
               act: ActivityRef | None = None, actor_id: str | None = None) -> dict[str, Any]:
    return completed_event(
        actor=actor(email, actor_id), activity=act or activity(), run_id=run_id, ended_at=when,
        metrics=Metrics(xp_earned=xp, total_questions=total, correct_questions=correct,
                        mastered_units=mastered, pct_complete=pct), attempt=attempt)


def resend(event: Mapping[str, Any]) -> dict[str, Any]:
    """The same event under a new id (what adapters do on a retried submit)."""
    return {**event, "id": f"urn:uuid:{uuid.uuid4()}"}


def _fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def _base(kind: str, action: str, email: str, run_id: str | None, when: datetime,
          act: ActivityRef | None, actor_id: str | None) -> dict[str, Any]:
    ref = act or activity()
    event: dict[str, Any] = {
        "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "id": f"urn:uuid:{uuid.uuid4()}", "type": kind, "action": action,
        "actor": actor(email, actor_id), "object": ref.caliper_object(),
        "eventTime": _fmt(when), "profile": "TimebackProfile",
        "extensions": {"courseId": ref.course_id},
    }
    if run_id is not None:
        event["session"] = f"urn:uuid:{run_id}"
        event["extensions"]["runId"] = run_id
    return event


def _checked(events: Sequence[Mapping[str, Any]]) -> Envelope:
    return parse_envelope(orjson.dumps(envelope(SENSOR, list(events), at("2030-01-01T00:00:00"))))


def new_run() -> str:
    return str(uuid.uuid4())


class Ledger:
    """A platform in this process: send envelopes through the real Ingestor, read the tables."""

    def __init__(self, folder: Path, timezone: str = "UTC", db_url: str | None = None) -> None:
        """On SQLite in `folder` by default; `db_url` for another database (PostgreSQL)."""
        self.platform: Platform = open_platform(Settings(
            db_url=db_url or sqlite_url(folder), data_dir=folder, timezone=timezone))

    def send(self, *events: Mapping[str, Any]) -> JobResult:
        """Append, project, and give the job with its final per-event results."""
        return self.projected(self.append(*events))

    def append(self, *events: Mapping[str, Any]) -> JobResult:
        """Append only, as the request path does; the job's results as the append gave them."""
        return self.platform.ingestor.ingest(_checked(events))

    def send_together(self, *envelopes: Sequence[Mapping[str, Any]]) -> list[JobResult]:
        """Several envelopes in one group commit (one transaction), one job each."""
        jobs = self.platform.ingestor.ingest_many([_checked(events) for events in envelopes])
        return [self.projected(job) for job in jobs]

    def projected(self, job: JobResult) -> JobResult:
        """`job` once the projector has passed it: the results its status then reports."""
        status = None
        pause = threading.Event()
        for _ in range(WAIT_S * 200):
            self.platform.project_pending()
            status = job_status(self.platform.engine, job.job_id, self.platform.now())
            if status is not None and status.completed:
                break
            pause.wait(0.005)  # another thread's projector holds the partition: it commits soon
        assert status is not None and status.completed, status
        return JobResult(job.job_id, [
            EventResult(r["externalId"], r["allocatedId"], r["status"], r.get("message"))
            for r in status.results])

    def statuses(self, *events: Mapping[str, Any]) -> list[str]:
        return [result.status for result in self.send(*events).results]

    def read(self, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.platform.engine.connect() as conn:
            return query(conn, *args, **kwargs)

    def rows(self, table: sa.Table) -> list[dict[str, Any]]:
        """Every row, in the order of its primary key's values as read: a key column may hold
        another form in the store (an interned id on SQLite), whose order differs by store."""
        with self.platform.engine.connect() as conn:
            keys = [column.name for column in table.primary_key.columns]
            rows = [dict(row._mapping) for row in conn.execute(sa.select(table))]
        return sorted(rows, key=lambda row: tuple(row[name] for name in keys))

    def close(self) -> None:
        self.platform.close()


WAIT_S = 30  # generous bound on a thread reaching a point; no test waits this long when green


class HeldCommit:
    """Stops the next commit of an engine just before it happens, until released."""

    def __init__(self, engine: sa.Engine) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self._engine = engine
        sa.event.listen(engine, "commit", self._hold, once=True)

    def _hold(self, _conn: sa.Connection) -> None:
        self.reached.set()
        assert self.release.wait(WAIT_S), "the test never released the held commit"
