"""The running totals (learner totals, learner-course totals) equal what history sums to, and the
stored XP flag follows its run's totals, whatever the batches."""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.server.pipeline.test_rebuild import ingest_stream
from tests.support.ledger_world import Ledger, at, completion, heartbeat
from tests.support.postgres import Backend
from timeledger.server import queries
from timeledger.server.pipeline import PipelineSettings
from timeledger.server.pipeline.flags import LEARNING_KINDS
from timeledger.server.pipeline.rebuild import rebuild
from timeledger.server.store.projection_tables import (
    flags,
    learner_course_totals,
    learner_days,
    learner_totals,
    runs,
)

SUMS = ("active_ms", "inactive_ms", "xp_milli", "completions", "total_questions",
        "correct_questions", "mastered_units")


def expected_totals(ledger: Ledger) -> tuple[dict[str, dict[str, int]],
                                             dict[tuple[str, str], dict[str, int]]]:
    """Learner and learner × course totals summed from the per-day and per-run projections."""
    people: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    courses: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    dates: dict[str, set[str]] = defaultdict(set)
    for day in ledger.rows(learner_days):
        for name in SUMS:
            people[day["learner_email"]][name] += day[name]
            courses[(day["learner_email"], day["course_id"])][name] += day[name]
        dates[day["learner_email"]].add(day["local_date"])
        courses[(day["learner_email"], day["course_id"])]["days_active"] += 1
    for email, days in dates.items():
        people[email]["days_active"] = len(days)
    for run in ledger.rows(runs):
        people[run["learner_email"]]["runs"] += 1
        courses[(run["learner_email"], run["course_id"])]["runs"] += 1
    stored_flags = ledger.rows(flags)
    for email, count in Counter(flag["learner_email"] for flag in stored_flags).items():
        people[email]["flags"] = count
    for email, count in Counter(flag["learner_email"] for flag in stored_flags
                                if flag["kind"] in LEARNING_KINDS).items():
        people[email]["learning_flags"] = count
    return ({email: dict(values) for email, values in people.items()},
            {key: dict(values) for key, values in courses.items()})


def stored_totals(ledger: Ledger) -> tuple[dict[str, dict[str, int]],
                                           dict[tuple[str, str], dict[str, int]]]:
    def kept(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, int]:
        return {name: row[name] for name in names if row[name]}

    people = {row["learner_email"]: kept(row, (*SUMS, "days_active", "runs", "flags",
                                               "learning_flags"))
              for row in ledger.rows(learner_totals)}
    courses = {(row["learner_email"], row["course_id"]): kept(row, (*SUMS, "days_active", "runs"))
               for row in ledger.rows(learner_course_totals)}
    return people, courses


def without_zeros(totals: tuple[dict[Any, dict[str, int]], ...]) -> tuple[dict[Any, Any], ...]:
    return tuple({key: {n: v for n, v in values.items() if v} for key, values in part.items()}
                 for part in totals)


@pytest.mark.parametrize("seed", [3, 11])
def test_running_totals_equal_the_sums_of_history(backend: Backend, tmp_path: Path,
                                                  seed: int) -> None:
    ledger = Ledger(tmp_path, timezone="Asia/Kolkata", db_url=backend.new_db_url())
    try:
        ingest_stream(ledger, random.Random(seed), 400)
        expected = without_zeros(expected_totals(ledger))
        assert expected[0] and any(v.get("flags") for v in expected[0].values())
        assert any(v.get("learning_flags") for v in expected[0].values())
        assert any(v.get("learning_flags", 0) < v.get("flags", 0) for v in expected[0].values())
        assert stored_totals(ledger) == expected
        rebuild(ledger.platform.engine, PipelineSettings("Asia/Kolkata"), 7)
        assert stored_totals(ledger) == expected
        listed = {row["email"]: row["totals"] for row in ledger.read(queries.list_learners)}
        for email, values in expected[0].items():
            assert listed[email]["runs"] == values.get("runs", 0)
            assert listed[email]["days_active"] == values["days_active"]
    finally:
        ledger.close()


def test_the_xp_flag_is_stored_and_cleared_when_later_time_covers_the_xp(
        backend: Backend, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, db_url=backend.new_db_url())
    try:
        run = str(uuid.uuid4())
        t0 = at("2025-01-14T09:00:00")
        ledger.send(heartbeat("ann@example.edu", run, t0, 120, 0),
                    completion("ann@example.edu", run, t0 + timedelta(minutes=3), 6, total=5,
                               correct=5))
        (flag,) = ledger.read(queries.list_flags, kind="xp_above_focused_minutes")
        assert flag["category"] == "integration" and flag["review"] is None
        assert "6 XP" in flag["reason"] and "2 focused" in flag["reason"]
        (person,) = ledger.read(queries.list_learners)
        assert person["totals"]["flags"] == 1
        # the final heartbeat arrives late: 6 minutes of focus allow the 6 XP
        ledger.send(heartbeat("ann@example.edu", run, t0 + timedelta(minutes=2), 240, 0))
        assert ledger.read(queries.list_flags, kind="xp_above_focused_minutes") == []
        (person,) = ledger.read(queries.list_learners)
        assert person["totals"]["flags"] == 0
    finally:
        ledger.close()
