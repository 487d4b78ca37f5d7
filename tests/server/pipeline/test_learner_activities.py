"""Learner activities (a learner's runs and results on one activity) equal what the runs and the
gradebook results say, whatever the batches, and follow a result that replaces an earlier one."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.server.pipeline.test_rebuild import ingest_stream
from tests.support.ledger_world import Ledger, activity, at, completion, heartbeat, new_run
from tests.support.postgres import Backend
from timeledger.server.pipeline import PipelineSettings
from timeledger.server.pipeline.rebuild import rebuild
from timeledger.server.store.projection_tables import gradebook_results, learner_activities, runs

Key = tuple[str, str, str]


def expected_activities(ledger: Ledger) -> dict[Key, dict[str, Any]]:
    """Each learner × course × activity grouped from the runs and gradebook results."""
    out: dict[Key, dict[str, Any]] = defaultdict(lambda: {
        "activity_name": None, "first_seen": None, "runs": 0, "completed_runs": 0,
        "results": 0, "scored_results": 0, "score_micro_sum": 0, "best_score": None})
    for run in ledger.rows(runs):
        row = out[(run["learner_email"], run["course_id"], run["activity_id"])]
        row["runs"] += 1
        row["completed_runs"] += run["completion_seq"] is not None
        row["first_seen"] = min(filter(None, (row["first_seen"], run["first_seen"])))
        names = [name for name in (row["activity_name"], run["activity_name"]) if name]
        row["activity_name"] = max(names, default=None)
    for result in ledger.rows(gradebook_results):
        row = out[(result["learner_email"], result["course_id"], result["activity_id"])]
        row["results"] += 1
        if result["score"] is not None:
            row["scored_results"] += 1
            row["score_micro_sum"] += round(result["score"] * 1_000_000)
            row["best_score"] = max(filter(lambda v: v is not None,
                                           (row["best_score"], result["score"])))
    return dict(out)


def stored_activities(ledger: Ledger) -> dict[Key, dict[str, Any]]:
    return {(row["learner_email"], row["course_id"], row["activity_id"]): {
        name: value for name, value in row.items()
        if name not in ("learner_email", "course_id", "activity_id")}
        for row in ledger.rows(learner_activities)}


@pytest.mark.parametrize("seed", [5, 17])
def test_learner_activities_equal_the_runs_and_results(backend: Backend, tmp_path: Path,
                                                       seed: int) -> None:
    ledger = Ledger(tmp_path, timezone="America/New_York", db_url=backend.new_db_url())
    try:
        ingest_stream(ledger, random.Random(seed), 400)
        expected = expected_activities(ledger)
        assert any(row["runs"] > 1 for row in expected.values())
        assert any(row["results"] > row["scored_results"] > 0 for row in expected.values())
        assert stored_activities(ledger) == expected
        rebuild(ledger.platform.engine, PipelineSettings("America/New_York"), 4)
        assert stored_activities(ledger) == expected
    finally:
        ledger.close()


def test_a_replaced_result_and_an_earlier_window_move_the_activity(backend: Backend,
                                                                   tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, db_url=backend.new_db_url())
    act = activity("fractions-1")
    key = ("ann@example.edu", act.course_id, act.url)
    t0 = at("2025-01-14T10:00:00")
    run = new_run()
    try:
        ledger.send(heartbeat("ann@example.edu", run, t0, 300, act=act),
                    completion("ann@example.edu", run, t0 + timedelta(minutes=5), 5, total=10,
                               correct=9, attempt=1, act=act))
        first = stored_activities(ledger)[key]
        assert (first["runs"], first["completed_runs"], first["results"],
                first["best_score"], first["first_seen"]) == (1, 1, 1, 90.0, t0)
        # the same attempt again, later and worse: it replaces the result, so the best falls
        ledger.send(completion("ann@example.edu", new_run(), t0 + timedelta(minutes=9), 0,
                               total=10, correct=4, attempt=1, act=act))
        # a window of the first run delivered late, starting before anything seen so far, and a
        # run of another activity not completed yet
        other = activity("fractions-2")
        ledger.send(heartbeat("ann@example.edu", run, t0 - timedelta(minutes=30), 60, act=act),
                    heartbeat("ann@example.edu", new_run(), t0, 60, act=other))
        open_run = stored_activities(ledger)[("ann@example.edu", other.course_id, other.url)]
        assert (open_run["runs"], open_run["completed_runs"], open_run["results"]) == (1, 0, 0)
        now = stored_activities(ledger)[key]
        assert (now["runs"], now["completed_runs"], now["results"], now["scored_results"],
                now["score_micro_sum"], now["best_score"]) == (2, 2, 1, 1, 40_000_000, 40.0)
        assert now["first_seen"] == t0 - timedelta(minutes=30)
        assert stored_activities(ledger) == expected_activities(ledger)
    finally:
        ledger.close()
