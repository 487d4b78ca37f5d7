"""Flags: the stored ones, and XP above focused minutes, derived from each run's current totals."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
import sqlalchemy as sa

from timeledger.server.pipeline.flags import FLAG_KINDS, FOCUSED_MINUTES_PER_XP, XP_SLACK_MILLI
from timeledger.server.queries.errors import InvalidParameter
from timeledger.server.queries.figures import iso, minutes, xp
from timeledger.server.store.projection_tables import completions, flags, runs

XP_ABOVE_MINUTES = "xp_above_focused_minutes"
_MS_PER_XP = 60_000 * FOCUSED_MINUTES_PER_XP


def xp_allowed_milli(active_ms: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
    """The most XP (thousandths) a run's active time allows: the focused minutes rounded up to a
    whole XP, plus XP_SLACK_MILLI, so an app that rounds XP to 0.1 or to whole XP is not flagged
    for an honest run (4.95 minutes allow 5.1 XP)."""
    whole_xp = (active_ms + (_MS_PER_XP - 1)) // _MS_PER_XP
    return whole_xp * 1000 + XP_SLACK_MILLI


def check_kind(kind: str | None) -> str | None:
    if kind is None or kind == "":
        return None
    if kind not in FLAG_KINDS:
        raise InvalidParameter("kind", f"Unknown flag kind {kind!r}; expected one of: "
                               + ", ".join(FLAG_KINDS))
    return kind


def _derived(conn: sa.Connection, learner: str | None, run_id: str | None,
             course: str | None) -> list[dict[str, Any]]:
    """A completed run whose XP is above what its active minutes allow (xp_allowed_milli)."""
    r = runs.c
    query = sa.select(runs).where(r.completions > 0, r.xp_milli > xp_allowed_milli(r.active_ms))
    if learner is not None:
        query = query.where(r.learner_email == learner)
    if run_id is not None:
        query = query.where(r.run_id == run_id)
    if course is not None:
        query = query.where(r.course_id == course)
    found = conn.execute(query).all()
    if not found:
        return []
    events: dict[str, list[str]] = defaultdict(list)
    for row in conn.execute(sa.select(completions.c.run_id, completions.c.event_id)
                            .where(completions.c.run_id.in_([f.run_id for f in found]))
                            .order_by(completions.c.seq)):
        events[row.run_id].append(row.event_id)
    return [{
        "key": f"{XP_ABOVE_MINUTES}:{row.run_id}", "kind": XP_ABOVE_MINUTES,
        "run_id": row.run_id, "learner": row.learner_email, "course_id": row.course_id,
        "event_ids": events[row.run_id],
        "reason": f"{xp(row.xp_milli)} XP earned on run {row.run_id} for "
                  f"{minutes(row.active_ms)} focused (active) minutes; 1 XP is "
                  f"{FOCUSED_MINUTES_PER_XP} focused minute of learning (rounded up to a "
                  f"whole XP, plus {xp(XP_SLACK_MILLI)} XP for rounding).",
        "occurrences": 1, "event_time": iso(row.completion_time), "seq": row.completion_seq,
    } for row in found]


def list_flags(conn: sa.Connection, learner: str | None = None, run_id: str | None = None,
               kind: str | None = None, course: str | None = None) -> list[dict[str, Any]]:
    """Flags, newest first, filtered by learner email, run id, kind and course (all optional).

    Each: {key, kind, run_id|None, learner, course_id, event_ids: [...], reason, occurrences,
    event_time, seq}: `event_ids` are the events behind the first occurrence, `occurrences` how
    many times the rule fired for that key, `seq` the event that first raised it."""
    f = flags.c
    query = sa.select(flags)
    if learner is not None:
        query = query.where(f.learner_email == learner)
    if run_id is not None:
        query = query.where(f.run_id == run_id)
    if kind is not None:
        query = query.where(f.kind == kind)
    if course is not None:
        query = query.where(f.course_id == course)
    out = [{
        "key": row.flag_key, "kind": row.kind, "run_id": row.run_id,
        "learner": row.learner_email, "course_id": row.course_id,
        "event_ids": orjson.loads(row.event_ids), "reason": row.reason,
        "occurrences": row.occurrences, "event_time": iso(row.event_time), "seq": row.first_seq,
    } for row in conn.execute(query)]
    if kind in (None, XP_ABOVE_MINUTES):
        out += _derived(conn, learner, run_id, course)
    out.sort(key=lambda flag: (flag["seq"] or 0, flag["key"]), reverse=True)
    return out
