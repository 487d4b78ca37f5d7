"""Completions: a resend (same run, attempt and eventTime) is not counted; the XP ledger."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.upserts import Row, insert_new
from timeledger.server.store.projection_tables import completions, xp_ledger


def record_completions(conn: sa.Connection, items: Sequence[Prepared]) -> set[int]:
    """Store counted completions and their XP; returns the seqs of resends (not counted)."""
    duplicates: set[int] = set()
    seen: set[str] = set()
    rows: list[Row] = []
    for item in items:
        key = item.completion_key
        if key is not None:
            if key in seen:
                duplicates.add(item.seq)
                continue
            seen.add(key)
        f = item.facts
        rows.append({
            "seq": item.seq, "event_id": f.event_id, "dedupe_key": key, "run_id": f.run_id,
            "learner_email": f.learner_email, "course_id": f.course_id,
            "activity_id": f.activity_id, "attempt": f.attempt, "event_time": f.event_time,
            "local_date": item.local_date, "xp_milli": item.xp_milli,
            "total_questions": f.total_questions, "correct_questions": f.correct_questions,
            "mastered_units": f.mastered_units, "pct_complete": f.pct_complete,
        })
    rows.sort(key=lambda row: (row["dedupe_key"] or "", row["seq"]))  # one lock order for all
    inserted = insert_new(conn, completions, rows, ["dedupe_key"], marker="seq")
    duplicates.update(row["seq"] for row in rows if row["seq"] not in inserted)
    ledger = [{name: row[name] for name in (
        "seq", "event_id", "learner_email", "course_id", "run_id", "activity_id", "event_time",
        "local_date", "xp_milli")} for row in rows if row["seq"] in inserted]
    if ledger:
        conn.execute(xp_ledger.insert(), ledger)
    return duplicates
