"""The demo's content: deterministic, realistic, one case of every flag, and never over data."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import sqlalchemy as sa

from tests.support.postgres import Backend
from timeledger.caliper.builders import envelope
from timeledger.caliper.envelope import parse_envelope
from timeledger.server import queries
from timeledger.server.demo import build_plan, fill_demo
from timeledger.server.platform import open_platform
from timeledger.server.settings import Settings
from timeledger.server.store.database import sqlite_url
from timeledger.server.store.schema import events

NOW = datetime(2025, 11, 20, 13, 30, tzinfo=UTC)  # a Thursday


def test_the_same_moment_gives_the_same_events() -> None:
    first, second = build_plan(NOW), build_plan(NOW)
    assert first.items == second.items
    assert build_plan(NOW.replace(hour=14)).items != first.items


def test_the_demo_is_a_school_week_up_to_now() -> None:
    items = [event for _, event in build_plan(NOW).items]
    times = [event["eventTime"] for event in items]
    assert times == sorted(times)
    assert max(times) < "2025-11-20T13:30:00.000Z"
    assert min(times) >= "2025-11-13"
    learners = {event["actor"]["email"] for event in items}
    assert len(learners) >= 24
    courses = {event["extensions"]["courseId"] for event in items}
    assert len(courses) == 5
    kinds = Counter(event["type"] for event in items)
    assert kinds["ActivityEvent"] > 500
    assert kinds["TimeSpentEvent"] > 5000
    runs: dict[str, set[str]] = {}
    for event in items:
        runs.setdefault(event["extensions"]["runId"], set()).add(event["eventTime"][:10])
    assert any(len(days) > 1 for days in runs.values()), "some lessons are resumed another day"
    corrections = [e for e in items if e["type"] == "ActivityEvent"
                   and e["generated"]["items"][0]["value"] < 0]
    assert len(corrections) == 1


def test_the_demo_fills_only_an_empty_store(backend: Backend, tmp_path: Path) -> None:
    db_url = backend.new_db_url() or sqlite_url(tmp_path)
    platform = open_platform(Settings(db_url=db_url, data_dir=tmp_path))
    first = build_plan(NOW).items[0][1]
    platform.ingestor.ingest(parse_envelope(orjson.dumps(envelope("https://x.example", [first],
                                                                   NOW))))
    assert fill_demo(platform) is None
    with platform.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 1
    platform.close()


def test_the_demo_fills_a_living_dashboard(backend: Backend, tmp_path: Path) -> None:
    """Through the ingest path, at a fixed moment: what a first run of `serve --demo` shows."""
    db_url = backend.new_db_url() or sqlite_url(tmp_path)
    platform = open_platform(Settings(db_url=db_url, data_dir=tmp_path), now=lambda: NOW)
    try:
        progress: list[tuple[int, int]] = []
        filled = fill_demo(platform, lambda sent, total: progress.append((sent, total)))
        assert filled is not None
        sent = filled.events
        with platform.engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
            learners = queries.list_learners(conn)
            courses = queries.list_courses(conn)
            flags = queries.list_flags(conn)
            runs = queries.list_runs(conn, limit=100_000)
            today = queries.overview(conn, NOW.date(), "UTC")["today"]
    finally:
        platform.close()
    assert sent == stored == len(build_plan(NOW).items)
    assert progress[-1] == (sent, sent)
    assert [done for done, _ in progress] == sorted({done for done, _ in progress})
    assert filled.learners == len(learners) and filled.courses == 5
    assert len(learners) == 30
    assert all(row["totals"]["xp"] > 0 and row["totals"]["days_active"] >= 4 for row in learners)
    assert {c["name"] for c in courses if c["registered"] and c["goals"]} == {
        "Math G3", "Math G4", "Reading G3", "Science G4", "SPAN-101"}
    single = [run for run in runs if run["completed"] and run["sessions"] == 1]
    resumed = [run for run in runs if run["completed"] and run["sessions"] > 1]
    assert len(single) > 300
    assert len(resumed) >= 5, "resumable lessons completed over several days"
    assert {flag["kind"] for flag in flags} == {
        "xp_above_focused_minutes", "low_accuracy", "double_time", "heartbeats_after_completion",
        "overlapping_windows", "cumulative_mastered_units"}
    assert len({flag["learner"] for flag in flags}) <= 6, "a few cases, not a flagged school"
    assert today["active_learners"] >= 20 and today["completions"] > 20  # a school day so far
