"""The projector's inserts of rows whose key may be stored already (pipeline/upserts.py's
PendingInsert): which rows did not go in, when some of a call's keys were stored before."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.server.pipeline.upserts import PendingInsert
from timeledger.server.store.migrate import upgrade
from timeledger.server.store.projection_tables import completions


def _completion(seq: int, dedupe_key: str | None) -> dict[str, Any]:
    return {"seq": seq, "event_id": f"event-{seq}", "dedupe_key": dedupe_key, "run_id": "run",
            "learner_email": "a@example.edu", "course_id": "math", "activity_id": "act",
            "attempt": 1, "event_time": datetime(2025, 3, 3, 9, seq, tzinfo=UTC),
            "local_date": "2025-03-03", "xp_milli": 1000, "total_questions": None,
            "correct_questions": None, "mastered_units": None, "pct_complete": None}


def _insert(conn: sa.Connection, rows: list[dict[str, Any]]) -> set[Any]:
    return PendingInsert(conn, completions, rows, ["dedupe_key"], marker="seq").run(conn)


def test_rows_whose_key_was_stored_before_are_the_ones_passed_over(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        assert _insert(conn, [_completion(1, "a"), _completion(2, "b")]) == set()
    with engine.begin() as conn:
        # a and b stored before; c new; a NULL key never conflicts, even with another NULL
        passed = _insert(conn, [_completion(3, "a"), _completion(4, "c"), _completion(5, None),
                                _completion(6, "b"), _completion(7, None)])
    assert passed == {3, 6}
    with engine.connect() as conn:
        stored = conn.execute(sa.select(completions.c.seq, completions.c.dedupe_key)
                              .order_by(completions.c.seq)).all()
    assert [tuple(row) for row in stored] == [(1, "a"), (2, "b"), (4, "c"), (5, None),
                                              (7, None)]


def test_a_call_whose_every_key_is_stored_passes_every_row(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        _insert(conn, [_completion(1, "a")])
        assert _insert(conn, [_completion(2, "a")]) == {2}
