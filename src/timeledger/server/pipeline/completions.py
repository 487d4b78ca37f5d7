"""Completions: a resend (same run, attempt and eventTime) is not counted; the XP ledger."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.upserts import PendingInsert, Row
from timeledger.server.store.projection_tables import completions, xp_ledger


class CompletionInserts:
    """The batch's completions as `completions` rows, a resend (same run, attempt and
    eventTime) once, built and converted for the driver before the write (and, on SQLite,
    before the write lock)."""

    def __init__(self, conn: sa.Connection, items: Sequence[Prepared]) -> None:
        self._resent: set[int] = set()  # a completion the batch already holds
        seen: set[str] = set()
        rows: list[Row] = []
        for item in items:
            key = item.completion_key
            if key is not None:
                if key in seen:
                    self._resent.add(item.seq)
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
        rows.sort(key=lambda row: (row["dedupe_key"] or "", row["seq"]))  # one lock order
        self._rows = rows
        self._insert = PendingInsert(conn, completions, rows, ["dedupe_key"], marker="seq")

    def run(self, conn: sa.Connection) -> set[int]:
        """Store counted completions and their XP; returns the seqs of resends (not counted)."""
        passed = self._insert.run(conn)
        ledger = [{name: row[name] for name in (
            "seq", "event_id", "learner_email", "course_id", "run_id", "activity_id",
            "event_time", "local_date", "xp_milli")} for row in self._rows
            if row["seq"] not in passed]
        if ledger:
            conn.execute(xp_ledger.insert(), ledger)
        return self._resent | passed
