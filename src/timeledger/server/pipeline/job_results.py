"""A job's state and per-event results: appended at once, completed as the projector passes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.server.store.database import begin_write
from timeledger.server.store.job_result_rows import encode_results, read_results
from timeledger.server.store.log_positions import needs_from_json, passed, read_positions
from timeledger.server.store.projection_tables import event_outcomes
from timeledger.server.store.schema import jobs

JobState = Literal["waiting", "active", "completed"]

#: What the projector turned a `stored` result into, and what that result then says.
OUTCOME_MESSAGES: dict[str, str] = {
    "duplicate_window": "Stored, but this run's window was already counted; not counted again",
    "duplicate_completion": "Stored, but this run's completion (same attempt and time) was "
                            "already counted; not counted again",
    "unprojectable": "Stored, but the projector could not apply it (see the platform's log); "
                     "not counted",
}


@dataclass(frozen=True, slots=True)
class JobStatus:
    job_id: str
    client_id: str | None
    state: JobState
    results: list[dict[str, Any]]  # one per event; final once the state is completed
    processed_on: datetime | None

    @property
    def completed(self) -> bool:
        return self.state == "completed"


def job_status(engine: Engine, job_id: str, now: datetime) -> JobStatus | None:
    """The job as it stands; a job seen complete for the first time is recorded as such, with
    the projector's outcomes folded into its results."""
    with engine.connect() as conn:
        status, final = _read_status(conn, job_id, now)
    if final:
        with begin_write(engine) as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.state != "completed")
                         .values(state="completed", processed_on=now,
                                 results=encode_results(status.results if status else [])))
    return status


def _read_status(conn: sa.Connection, job_id: str,
                 now: datetime) -> tuple[JobStatus | None, bool]:
    """The job, and whether it has just been found complete (to be recorded)."""
    row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
    if row is None:
        return None, False
    results = read_results(conn, row.results)
    if row.state == "completed":
        return JobStatus(row.id, row.client_id, "completed", results, row.processed_on), False
    needs = needs_from_json(row.needs)
    positions = read_positions(conn)
    if not passed(positions, needs):
        started = any(p in positions and positions[p].position >= position
                      for p, position in needs.items())
        return JobStatus(row.id, row.client_id, "active" if started else "waiting", results,
                         None), False
    final = _with_outcomes(conn, results)
    return JobStatus(row.id, row.client_id, "completed", final, now), True


def _with_outcomes(conn: sa.Connection, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stored = [int(r["allocatedId"]) for r in results if r["status"] == "stored"]
    if not stored:
        return results
    decided = {seq: outcome for seq, outcome in conn.execute(
        sa.select(event_outcomes.c.seq, event_outcomes.c.outcome)
        .where(event_outcomes.c.seq.in_(stored)))}
    final = []
    for result in results:
        outcome = decided.get(int(result["allocatedId"])) if result["status"] == "stored" else None
        final.append(result if outcome is None else
                     {**result, "status": outcome, "message": OUTCOME_MESSAGES[outcome]})
    return final
