"""The demo's content: deterministic, realistic, one case of every flag, and never over data."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import sqlalchemy as sa
from rich.console import Console

from timeledger.caliper.builders import envelope
from timeledger.caliper.envelope import parse_envelope
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


def test_the_demo_fills_only_an_empty_store(tmp_path: Path) -> None:
    platform = open_platform(Settings(db_url=sqlite_url(tmp_path), data_dir=tmp_path))
    first = build_plan(NOW).items[0][1]
    platform.ingestor.ingest(parse_envelope(orjson.dumps(envelope("https://x.example", [first],
                                                                   NOW))))
    assert fill_demo(platform, Console(quiet=True)) == 0
    with platform.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 1
    platform.close()
