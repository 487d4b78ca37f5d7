"""Runs: one run's time, windows (its timeline), sessions, completion and flags."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from timeledger.server.queries.course_catalog import course_info, course_ref
from timeledger.server.queries.errors import InvalidParameter, NotFound
from timeledger.server.queries.figures import accuracy, iso, minutes, seconds, xp
from timeledger.server.queries.page_cursor import cursor_time, decode_key, encode_key
from timeledger.server.queries.run_lists import (
    DEFAULT_RUN_DAYS,
    DEFAULT_RUN_FLAGS,
    DEFAULT_RUN_WINDOWS,
    count_run_days,
    run_days_page,
    run_flags_page,
    run_windows_page,
)
from timeledger.server.store.projection_tables import learners, run_days, runs

DEFAULT_RUNS_PAGE = 100  # the runs one page of GET /api/v1/runs lists unless `limit` says
MAX_RUNS_PAGE = 1000  # and the most it lists


def normalize_run_id(run_id: str) -> str:
    return run_id.strip().removeprefix("urn:uuid:").lower()


def resolve_run_id(conn: sa.Connection, run_id: str) -> str:
    """A run's id from either form an app knows it by: its UUID (bare or urn:uuid:), or the
    string of its own it passed as runId (kept as the run's key). NotFound for an unknown key,
    InvalidParameter when apps under different sensors used the same key."""
    bare = normalize_run_id(run_id)
    try:
        return str(uuid.UUID(bare))
    except ValueError:
        pass
    found = [str(row.run_id) for row in conn.execute(
        sa.select(runs.c.run_id).where(runs.c.run_key == run_id).order_by(runs.c.run_id).limit(2))]
    if not found:
        raise NotFound(f"No run {run_id!r}")
    if len(found) > 1:
        raise InvalidParameter("run_id", f"More than one run has the key {run_id!r} (apps under "
                               "different sensors used it); ask for the run by its UUID")
    return found[0]


def _completion(row: Any) -> dict[str, Any] | None:
    if row.completion_seq is None:
        return None
    return {
        "event_id": row.completion_event_id, "time": iso(row.completion_time),
        "attempt": row.completion_attempt, "xp": xp(row.completion_xp_milli),
        "total_questions": row.completion_total_questions,
        "correct_questions": row.completion_correct_questions,
        "accuracy": accuracy(row.completion_total_questions, row.completion_correct_questions),
        "mastered_units": row.completion_mastered_units,
        "pct_complete": row.completion_pct_complete,
    }


def _summary(row: Any, names: dict[str, str | None], info: dict[str, dict[str, Any]],
             sessions: int) -> dict[str, Any]:
    return {
        "run_id": row.run_id,
        "run_key": row.run_key,
        "learner": {"email": row.learner_email, "name": names.get(row.learner_email),
                    "actor_id": row.actor_id},
        "activity": {"id": row.activity_id, "name": row.activity_name},
        "course": course_ref(info, row.course_id),
        "subject": row.subject, "app_name": row.app_name,
        "first_seen": iso(row.first_seen), "last_seen": iso(row.last_seen),
        "active_seconds": seconds(row.active_ms), "inactive_seconds": seconds(row.inactive_ms),
        "other_seconds": seconds(row.other_ms), "active_minutes": minutes(row.active_ms),
        "heartbeats": row.heartbeats, "sessions": sessions,
        "completed": row.completion_seq is not None, "completions": row.completions,
        "completion": _completion(row), "xp_earned": xp(row.xp_milli),
    }


def _names(conn: sa.Connection, emails: list[str]) -> dict[str, str | None]:
    found = conn.execute(sa.select(learners.c.email, learners.c.name)
                         .where(learners.c.email.in_(emails)))
    return {row.email: row.name for row in found}


def known_run(conn: sa.Connection, run_id: str) -> str:
    """The id of a stored run, by its UUID or its key (resolve_run_id); NotFound if unknown."""
    key = resolve_run_id(conn, run_id)
    if conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == key)).first() is None:
        raise NotFound(f"No run {run_id!r}")
    return key


def get_run(conn: sa.Connection, run_id: str) -> dict[str, Any]:
    """One run, by its UUID or its key (resolve_run_id); NotFound if unknown. Returns {run_id,
    run_key (the app's own runId when it was not a UUID, else None), learner: {email, name,
    actor_id},
    activity: {id, name}, course: {id, name}, subject, app_name, first_seen, last_seen,
    active_seconds, inactive_seconds, other_seconds, active_minutes, heartbeats, sessions,
    session_days: [{date, active_seconds, inactive_seconds}], windows: [{event_id, start, end,
    active_seconds, inactive_seconds, other_seconds, bounds: "reported"|"estimated",
    overlaps_event_id}], completed, completions, completion: {event_id, time, attempt, xp,
    total_questions, correct_questions, accuracy, mastered_units, pct_complete}|None,
    xp_earned, flags: [... as list_flags]}. `windows`, `session_days` and `flags` are the first
    pages of run_windows_page, run_days_page and run_flags_page (their default limits);
    `windows_next`, `session_days_next` and `flags_next` are the cursors of the rest (None when
    the run has no more)."""
    key = resolve_run_id(conn, run_id)
    row = conn.execute(sa.select(runs).where(runs.c.run_id == key)).first()
    if row is None:
        raise NotFound(f"No run {run_id!r}")
    windows = run_windows_page(conn, key, DEFAULT_RUN_WINDOWS)
    days = run_days_page(conn, key, DEFAULT_RUN_DAYS)
    flagged = run_flags_page(conn, key, DEFAULT_RUN_FLAGS)
    sessions = len(days["session_days"]) if days["next"] is None else count_run_days(conn, key)
    out = _summary(row, _names(conn, [row.learner_email]), course_info(conn), sessions)
    out["session_days"], out["session_days_next"] = days["session_days"], days["next"]
    out["windows"], out["windows_next"] = windows["windows"], windows["next"]
    out["flags"], out["flags_next"] = flagged["flags"], flagged["next"]
    return out


def runs_page(conn: sa.Connection, learner: str | None, course: str | None, limit: int,
              after: str | None = None) -> dict[str, Any]:
    """At most `limit` runs as list_runs gives them, after the cursor `after` (the `next` of
    the previous page): {runs, next (None on the last page)}."""
    key = None
    if after is not None:
        last_seen, run_id = decode_key("after", after, "runs", (str, str))
        key = (cursor_time("after", last_seen), str(run_id))
    found = _run_rows(conn, learner, course, None, limit + 1, key)
    more = len(found) > limit
    found = found[:limit]
    return {"runs": _summaries(conn, found), "next": encode_key(
        "runs", [found[-1].last_seen.isoformat(), str(found[-1].run_id)]) if more else None}


def list_runs(conn: sa.Connection, learner: str | None = None, course: str | None = None,
              limit: int = 100, activity: str | None = None) -> list[dict[str, Any]]:
    """Runs, most recently seen first (then by id), by learner email, course and/or activity
    (the summary fields of get_run: no windows, session_days or flags)."""
    return _summaries(conn, _run_rows(conn, learner, course, activity, limit, None))


def _run_rows(conn: sa.Connection, learner: str | None, course: str | None,
              activity: str | None, limit: int,
              after: tuple[datetime, str] | None) -> list[sa.Row[Any]]:
    """The runs' rows in list order, after the run last seen at `after[0]` with id `after[1]`."""
    query = sa.select(runs).order_by(runs.c.last_seen.desc(), runs.c.run_id).limit(limit)
    if after is not None:
        # `last_seen <=` on its own, so the index scan starts at the cursor
        query = query.where(runs.c.last_seen <= after[0], sa.or_(
            runs.c.last_seen < after[0], runs.c.run_id > after[1]))
    if learner is not None:
        query = query.where(runs.c.learner_email == learner)
    if course is not None:
        query = query.where(runs.c.course_id == course)
    if activity is not None:
        query = query.where(runs.c.activity_id == activity)
    return list(conn.execute(query))


def _summaries(conn: sa.Connection, found: list[sa.Row[Any]]) -> list[dict[str, Any]]:
    if not found:
        return []
    ids = [row.run_id for row in found]
    sessions: dict[str, int] = {
        row[0]: int(row[1]) for row in conn.execute(
            sa.select(run_days.c.run_id, sa.func.count()).where(run_days.c.run_id.in_(ids))
            .group_by(run_days.c.run_id))}
    names = _names(conn, sorted({row.learner_email for row in found}))
    info = course_info(conn, {row.course_id for row in found})
    return [_summary(row, names, info, sessions.get(row.run_id, 0)) for row in found]
