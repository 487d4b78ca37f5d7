"""The course page's learners × activities heatmap in Chromium: each cell is the learner's best
gradebook score on the activity (or in progress, or not started), and opens their runs of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.server.dashboard.conftest import platform_only_page
from tests.support.browser import browser  # noqa: F401 (fixture)
from tests.support.platform import PlatformProcess

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    with platform_only_page(browser) as (opened, elsewhere):
        yield opened
    assert elsewhere == []


def test_each_cell_is_the_best_score_and_opens_the_runs(page: Any, demo: PlatformProcess) -> None:
    course = "Math G4"
    page.goto(f"{demo.base_url}/courses/{quote(course)}")
    cells = page.locator("#heatmap-table td.heat").evaluate_all(
        "cells => cells.map(c => [c.closest('tr').dataset.learner, c.dataset.activity,"
        " c.dataset.state, c.dataset.value === undefined ? null : JSON.parse(c.dataset.value),"
        " c.innerText.trim()])")
    activities = page.locator("#heatmap-table thead th[data-activity]").evaluate_all(
        "ths => ths.map(th => th.dataset.activity)")
    learners = page.locator("#heatmap-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.learner)")
    assert len(cells) == len(activities) * len(learners) > 20
    # Expected from the query API: best score per learner and activity, and runs by state.
    best: dict[tuple[str, str], float] = {}
    for item in demo.get("/api/v1/gradebook", course=course)["line_items"]:
        for result in item["results"]:
            key = (result["learner"], item["activity_id"])
            if result["score"] is not None:
                best[key] = max(best.get(key, result["score"]), result["score"])
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for learner in learners:
        for run in demo.get("/api/v1/runs", learner=learner, course=course, limit=1000)["runs"]:
            runs.setdefault((learner, run["activity"]["id"]), []).append(run)
    assert set(activities) == {activity for _, activity in runs}
    states = set()
    for learner, activity, state, value, text in cells:
        key = (learner, activity)
        states.add(state)
        if key not in runs:
            assert state == "not_started" and text.startswith("–"), key
            continue
        if key in best:
            assert state == "scored" and value == round(best[key], 1), key
            assert text.replace(" %", "") == json.dumps(value).removesuffix(".0"), key
        elif any(run["completed"] for run in runs[key]):
            assert state == "completed", key
        else:
            assert (state, text) == ("in_progress", "in progress"), key
    assert {"scored", "in_progress", "not_started"} <= states
    # A cell opens that learner's runs of that activity, and only those.
    learner, activity = next((lr, ac) for lr, ac, state, _, _ in cells if state == "scored")
    page.click(f"#heatmap-table tr[data-learner='{learner}'] td[data-activity='{activity}'] a")
    page.wait_for_selector("#activity-runs-table")
    assert page.locator("#activity-title").get_attribute("data-activity") == activity
    shown = page.locator("#activity-runs-table tbody tr[data-run]").evaluate_all(
        "rows => rows.map(r => r.dataset.run)")
    assert shown == [run["run_id"] for run in runs[(learner, activity)]]
