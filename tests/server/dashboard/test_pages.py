"""The dashboard in real Chromium: every page loads, draws, matches the query API, and links up."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from tests.server.dashboard.conftest import (
    ADMIN,
    LEARNERS,
    platform_only_page,
    screenshot,
    seed_two_learners,
    share_link,
)
from tests.support.platform import PlatformProcess

pytestmark = pytest.mark.browser

CLOSE = 1e-6  # sums of float XP and accuracy computed in another order
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
# The page shows at most one decimal for XP and percent; durations to the minute or the second.
SHOWN_ROUNDING = 0.05 + 1e-9
DURATION = re.compile(r"(?P<under>< 1 min)|(?:(?P<hours>\d[\d,]*) h)? ?(?:(?P<minutes>\d+) min)?")
SHORT_DURATION = re.compile(r"(?:(?P<minutes>\d+) min)? ?(?:(?P<seconds>\d+) s)?")
# [field, raw JSON, text a person reads] of every figure under the elements given.
FIGURES_JS = """els => els.flatMap(el => Array.from(
    el.matches('[data-field]') ? [el] : el.querySelectorAll('[data-field]'))
  .map(cell => [cell.dataset.field, cell.dataset.value, cell.innerText]))"""


@pytest.fixture
def page(browser: Any, console_errors: Callable[[Any], list[str]]) -> Iterator[Any]:
    """A page in a fresh context that may reach the platform only: no CDN, works offline."""
    with platform_only_page(browser) as (opened, elsewhere):
        opened.errors = console_errors(opened)
        yield opened
    assert elsewhere == [], "the dashboard asked for something off the platform"


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def _charts_drawn(page: Any) -> None:
    """Every chart on the page came drawn (SVG from the server, no chart script), with a title
    and a description for screen readers."""
    charts = page.locator("[data-chart]").count()
    assert charts > 0
    assert page.locator("[data-chart] > svg[role=img]").count() == charts
    for label in page.locator("[data-chart] > svg").evaluate_all(
            "svgs => svgs.map(s => s.getAttribute('aria-labelledby').split(' ')"
            ".map(id => document.getElementById(id).textContent).join(' '))"):
        assert len(label) > 20, label
    assert page.locator("[data-chart] rect[data-date], [data-chart] rect[data-part]").count() > 0


def _read_seconds(text: str) -> tuple[float, float]:
    """A duration in seconds as the page writes it: "55 s" and "2 min 5 s" to the second, an
    hour or more as minutes ("1 h 2 min")."""
    short = SHORT_DURATION.fullmatch(text)
    if short is not None and text:
        return int(short.group("minutes") or 0) * 60 + int(short.group("seconds") or 0), 0.5
    minutes, rounding = _read_number(text)
    assert "h" in text, text
    return minutes * 60, rounding * 60


def _read_number(text: str) -> tuple[float, float]:
    """What a figure's text says, and how far its rounding may take it from the value: a
    duration ("1 h 12 min", "45 min", "< 1 min") to the minute, any other number to 0.05."""
    duration = DURATION.fullmatch(text)
    if duration is not None:
        if duration.group("under"):
            return 0.5, 0.5
        hours = int((duration.group("hours") or "0").replace(",", ""))
        return hours * 60 + int(duration.group("minutes") or 0), 0.5 + 1e-9
    number = NUMBER.search(text)
    assert number is not None, text
    return float(number.group().replace(",", "")), SHOWN_ROUNDING


def _shown(field: str, raw: str, text: str) -> Any:
    """A figure's value, once its text (what a person reads) is checked to say the same."""
    value = json.loads(raw)
    text = text.strip()
    if value is None:
        assert text == "–", (field, text)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        read, rounding = (_read_seconds if field.endswith("_seconds") else _read_number)(text)
        assert abs(read - value) <= rounding, (field, value, text)
    return value


def _values(page: Any, scope: str) -> dict[str, Any]:
    """{data-field: JSON value} of the figures inside `scope`, each as its text shows it."""
    cells = page.locator(scope).evaluate_all(FIGURES_JS)
    return {field: _shown(field, raw, text) for field, raw, text in cells}


def _rows(page: Any, selector: str, key: str) -> dict[str, dict[str, Any]]:
    """{row key: {data-field: JSON value}} of a table's rows, each figure as its text shows it."""
    rows = page.locator(selector).evaluate_all(
        "(rows, key) => rows.map(row => [row.getAttribute(key), Array.from("
        "row.querySelectorAll('[data-field]')).map("
        "cell => [cell.dataset.field, cell.dataset.value, cell.innerText])])", key)
    return {row_key: {field: _shown(field, raw, text) for field, raw, text in cells}
            for row_key, cells in rows}


def _plotted(page: Any, chart: str) -> dict[str, Any]:
    """What the chart `chart` drew: its bars' days, values and goal-met marks, the goal line's
    value, and the values each bar's height stands for (height over the plot's pixels per unit,
    read from the gridline labelled with the biggest value)."""
    drawn: dict[str, Any] = page.locator(f"[data-chart='{chart}'] > svg").evaluate(
        """svg => {
          const bars = Array.from(svg.querySelectorAll('rect[data-date]'));
          const lines = Array.from(svg.querySelectorAll('line.grid'));
          const labels = Array.from(svg.querySelectorAll('text.tick'));
          const goal = svg.querySelector('line.goal');
          return {x: bars.map(b => b.dataset.date), y: bars.map(b => JSON.parse(b.dataset.value)),
                  met: bars.map(b => JSON.parse(b.dataset.goalMet)),
                  heights: bars.map(b => b.height.baseVal.value),
                  baseline: Number(lines[0].getAttribute('y1')),
                  top: Number(lines[lines.length - 1].getAttribute('y1')),
                  top_label: labels[labels.length - 1].textContent,
                  goal: goal ? JSON.parse(goal.dataset.goal) : null,
                  goal_y: goal ? Number(goal.getAttribute('y1')) : null};
        }""")
    return drawn


def _label_value(text: str) -> float:
    number = NUMBER.search(text)
    assert number is not None, text
    return float(number.group().replace(",", ""))


def _drawn_to_scale(drawn: dict[str, Any]) -> None:
    """Each bar's height is its value on the chart's own scale."""
    per_unit = (drawn["baseline"] - drawn["top"]) / _label_value(drawn["top_label"])
    for value, height in zip(drawn["y"], drawn["heights"], strict=True):
        assert height == pytest.approx((value or 0) * per_unit, abs=0.02)


def _learner_with_runs(demo: PlatformProcess) -> dict[str, Any]:
    learners = demo.get("/api/v1/learners")["learners"]
    return max(learners, key=lambda row: (row["totals"]["runs"], row["email"]))


def test_overview_figures_are_the_api_figures_summed(page: Any, demo: PlatformProcess) -> None:
    _open(page, demo.base_url + "/overview")
    _charts_drawn(page)
    screenshot(page, "overview")
    dates = [page.locator("[data-series=xp] tr[data-date]").nth(i).get_attribute("data-date")
             for i in range(page.locator("[data-series=xp] tr[data-date]").count())]
    assert len(dates) == 14
    shown = {name: [json.loads(v) for v in page.locator(f"[data-series={name}] tr[data-date]")
                    .evaluate_all("rows => rows.map(r => r.dataset.value)")]
             for name in ("active_learners", "active_minutes", "xp", "completions", "accuracy",
                          "flags")}
    per_day: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    active_in_window = 0
    for learner in demo.get("/api/v1/learners")["learners"]:
        summary = demo.get(f"/api/v1/learners/{quote(learner['email'])}/summary",
                           **{"from": dates[0], "to": dates[-1]})
        active_in_window += bool(summary["days"])
        for day in summary["days"]:
            sums = per_day[day["date"]]
            sums["learners"] += 1
            for name in ("active_minutes", "xp", "completions", "total_questions",
                         "correct_questions"):
                sums[name] += day[name]
    flags_per_day: dict[str, int] = defaultdict(int)
    for flag in demo.get("/api/v1/flags")["flags"]:
        flags_per_day[flag["event_time"][:10]] += 1  # the demo runs in UTC
    for index, day in enumerate(dates):
        sums = per_day.get(day, {})
        assert shown["active_learners"][index] == sums.get("learners", 0), day
        assert shown["completions"][index] == sums.get("completions", 0), day
        assert shown["xp"][index] == pytest.approx(sums.get("xp", 0), abs=CLOSE), day
        # Minutes are rounded to 2 decimals per learner in the API, once per day here.
        learners = sums.get("learners", 0)
        assert shown["active_minutes"][index] == pytest.approx(
            sums.get("active_minutes", 0), abs=0.005 * learners + CLOSE), day
        total = sums.get("total_questions", 0)
        expected = round(sums["correct_questions"] * 100 / total, 1) if total else None
        assert shown["accuracy"][index] == expected, day
        assert shown["flags"][index] == flags_per_day.get(day, 0), day
    api = demo.get("/api/v1/overview", days=14)
    assert api["dates"] == dates
    assert {name: api["series"][name] for name in shown} == shown
    for name, values in shown.items():  # each chart draws the API's series, day by day
        drawn = _plotted(page, f"chart-{name}")
        assert drawn["x"] == dates, name
        assert drawn["y"] == values, name
        _drawn_to_scale(drawn)
    kpis = _values(page, "#today")
    assert {name: kpis[name] for name in shown} == api["today"]
    assert {name: kpis[f"window_{name}"] for name in shown} == api["window"]
    assert api["today"] == {name: values[-1] for name, values in shown.items()}
    assert api["window"]["completions"] == sum(shown["completions"])
    assert api["window"]["flags"] == sum(shown["flags"])
    assert api["window"]["active_learners"] == active_in_window
    assert api["window"]["xp"] == pytest.approx(sum(shown["xp"]), abs=CLOSE)
    questions = sum(sums.get("total_questions", 0) for sums in per_day.values())
    correct = sum(sums.get("correct_questions", 0) for sums in per_day.values())
    assert api["window"]["accuracy"] == round(correct * 100 / questions, 1)
    newest = page.locator(".flag-list [data-flag]").evaluate_all(
        "items => items.map(i => i.dataset.flag)")
    assert newest == [flag["key"] for flag in demo.get("/api/v1/flags")["flags"][:5]]
    assert sum(shown["completions"]) > 100  # a living dashboard, not an empty one
    assert page.errors == []


def test_learners_table_is_the_api_and_sorts_and_searches(
        page: Any, demo: PlatformProcess) -> None:
    _open(page, demo.base_url + "/learners")
    screenshot(page, "learners")
    api = {row["email"]: row["totals"] for row in demo.get("/api/v1/learners")["learners"]}
    shown = _rows(page, "#learners-table tbody tr[data-learner]", "data-learner")
    assert set(shown) == set(api)
    for email, values in shown.items():
        for field, value in values.items():
            assert value == api[email][field], (email, field)
    page.click("a[data-sort=xp]")  # numeric columns sort largest first
    page.wait_for_url("**sort=xp**")
    xps = [json.loads(v) for v in page.locator("td[data-field=xp]").evaluate_all(
        "cells => cells.map(c => c.dataset.value)")]
    assert xps == sorted(xps, reverse=True)
    target = sorted(api)[3]
    page.fill("#learner-search", target.split("@")[0])
    page.press("#learner-search", "Enter")
    page.wait_for_url("**q=**")
    assert page.locator("#learners-table tbody tr[data-learner]").evaluate_all(
        "rows => rows.map(r => r.dataset.learner)") == [target]
    assert page.errors == []


def test_learner_page_is_the_api(page: Any, demo: PlatformProcess) -> None:
    learner = _learner_with_runs(demo)
    email = learner["email"]
    _open(page, f"{demo.base_url}/learners/{quote(email)}")
    _charts_drawn(page)
    screenshot(page, "learner")
    totals = page.locator("#learner-totals")
    span = {"from": totals.get_attribute("data-range-from"),
            "to": totals.get_attribute("data-range-to")}
    summary = demo.get(f"/api/v1/learners/{quote(email)}/summary", **span)
    all_time = demo.get(f"/api/v1/learners/{quote(email)}/summary")
    shown_totals = _values(page, "#learner-totals")
    assert {"all_time_xp", "all_time_active_minutes", "xp", "active_minutes",
            "accuracy"} <= set(shown_totals)
    for field, value in shown_totals.items():
        if field.startswith("all_time_"):
            assert value == all_time["totals"][field.removeprefix("all_time_")], field
        else:
            assert value == summary["totals"][field], field
    days = _rows(page, "#days-table tbody tr[data-date]", "data-date")
    assert set(days) == {day["date"] for day in summary["days"]}
    for day in summary["days"]:
        assert "goals_met" in days[day["date"]]
        for field, value in days[day["date"]].items():
            assert value == day[field], (day["date"], field)
    # The charts: the API's daily figures against the daily goals of the learner's courses.
    goals = {course["course_id"]: course["goals"]
             for course in demo.get("/api/v1/courses")["courses"]}
    taken = sorted({cid for day in summary["days"] for cid in day["courses"]})
    by_date = {day["date"]: day for day in summary["days"]}
    for chart, field, goal_name in (("chart-minutes", "active_minutes", "dailyActiveMinutes"),
                                    ("chart-xp", "xp", "dailyXp")):
        bars = _plotted(page, chart)
        assert bars["x"][0] == span["from"] and bars["x"][-1] == span["to"]
        assert bars["y"] == [by_date[d][field] if d in by_date else 0 for d in bars["x"]], chart
        _drawn_to_scale(bars)
        wanted = [goals[cid][goal_name] for cid in taken if goal_name in (goals[cid] or {})]
        assert wanted, "the demo's courses set daily goals"
        assert bars["goal"] == pytest.approx(sum(wanted)), chart
        goal_height = (bars["baseline"] - bars["goal_y"]) / (bars["baseline"] - bars["top"])
        assert goal_height * _label_value(bars["top_label"]) == pytest.approx(
            sum(wanted), abs=0.01), chart
        # Each bar is marked (and coloured) by its day's figure against the goal.
        assert bars["met"] == [value >= sum(wanted) for value in bars["y"]], chart
        classes = page.locator(f"[data-chart='{chart}'] rect[data-date]").evaluate_all(
            "bars => bars.map(b => b.getAttribute('class'))")
        assert classes == ["bar bar-met" if met else "bar bar-missed" for met in bars["met"]]
        assert "below goal" in page.locator(f"[data-chart='{chart}'] .chart-legend").inner_text()
    runs = {run["run_id"]: run for run in demo.get("/api/v1/runs", learner=email,
                                                   limit=25)["runs"]}
    shown_runs = _rows(page, "#runs-table tbody tr[data-run]", "data-run")
    assert set(shown_runs) == set(runs)
    for run_id, values in shown_runs.items():
        run = runs[run_id]
        completion_accuracy = run["completion"]["accuracy"] if run["completion"] else None
        expected = {**run, "accuracy": completion_accuracy}
        for field, value in values.items():
            assert value == expected[field], (run_id, field)
    book = demo.get("/api/v1/gradebook", learner=email)
    progress = _rows(page, "#progress-table tbody tr[data-course]", "data-course")
    assert set(progress) == {p["course_id"] for p in book["progress"]}
    for entry in book["progress"]:
        for field, value in progress[entry["course_id"]].items():
            assert value == entry[field], (entry["course_id"], field)
    results = _rows(page, "#results-table tbody tr[data-result]", "data-result")
    expected_results = {result["event_id"]: result for item in book["line_items"]
                        for result in item["results"]}
    newest = sorted((r for r in expected_results.values() if r["source"] == "caliper"),
                    key=lambda r: r["score_date"] or "", reverse=True)[:50]
    # the page lists the learner's newest 50 (the API all of them)
    assert set(results) == {r["event_id"] for r in newest} | {
        key for key, r in expected_results.items() if r["source"] != "caliper"}
    for event_id, values in results.items():
        assert {"score", "xp", "attempt"} <= set(values)
        for field, value in values.items():
            assert value == expected_results[event_id][field], (event_id, field)
    flags = demo.get("/api/v1/flags", learner=email)["flags"]
    assert page.locator("#learner-flags [data-flag]").evaluate_all(
        "items => items.map(i => i.dataset.flag)") == [flag["key"] for flag in flags]
    assert page.errors == []


def test_run_page_is_the_api(page: Any, demo: PlatformProcess) -> None:
    flagged = [flag for flag in demo.get("/api/v1/flags")["flags"] if flag["run_id"]]
    run = demo.get(f"/api/v1/runs/{flagged[0]['run_id']}")
    _open(page, f"{demo.base_url}/runs/{run['run_id']}")
    _charts_drawn(page)
    screenshot(page, "run")
    expected_totals = {**run, "inactive_minutes": run["inactive_seconds"] / 60}
    for field, value in _values(page, "#run-totals").items():
        assert value == expected_totals[field], field
    windows = page.locator("#windows-table tbody tr[data-event]").evaluate_all(
        "rows => rows.map(r => r.dataset.event)")
    assert windows == [w["event_id"] for w in run["windows"]]
    shown_windows = _rows(page, "#windows-table tbody tr[data-event]", "data-event")
    for window in run["windows"]:
        assert shown_windows[window["event_id"]] == {
            "active_seconds": window["active_seconds"],
            "inactive_seconds": window["inactive_seconds"]}
    # The timeline draws each window's length, its active share first.
    parts = page.locator("[data-chart='chart-timeline'] rect[data-part]").evaluate_all(
        "rects => rects.map(r => [r.dataset.part, JSON.parse(r.dataset.ms),"
        " r.width.baseVal.value, r.ownerSVGElement.width.baseVal.value])")
    active = [part for part in parts if part[0] == "active"]
    inactive = [part for part in parts if part[0] == "inactive"]
    spans = [(datetime.fromisoformat(w["end"].replace("Z", "+00:00"))
              - datetime.fromisoformat(w["start"].replace("Z", "+00:00"))).total_seconds() * 1000
             for w in run["windows"]]
    drawn_active = [min(w["active_seconds"] * 1000, span)
                    for w, span in zip(run["windows"], spans, strict=True)]
    assert [part[1] for part in active] == pytest.approx(drawn_active)
    assert [part[1] for part in inactive] == pytest.approx(
        [max(span - share, 0.0) for span, share in zip(spans, drawn_active, strict=True)])
    # Widths are to one scale: pixels per millisecond alike for every part drawn.
    scales = {round(width / ms, 9) for _, ms, width, _ in parts if ms > 1000}
    assert max(scales) == pytest.approx(min(scales), rel=1e-3)
    if run["completion"]:
        completion = {f"completion_{name}": value for name, value in run["completion"].items()}
        shown = _values(page, "#completion")
        assert {"completion_xp", "completion_accuracy", "attempt"} <= set(shown)
        for field, value in shown.items():
            assert value == {**completion, "attempt": run["completion"]["attempt"]}[field], field
    # The API's reasons, with their times and runIds made readable (each keeps the raw value
    # in its attribute), whichever flag happens to be the newest at the hour the test runs
    reasons = page.locator("#run-flags .flag-reason").evaluate_all("""els => els.map(el => {
        const copy = el.cloneNode(true);
        copy.querySelectorAll('time[datetime]').forEach(t => t.replaceWith(t.dateTime));
        copy.querySelectorAll('code[title]').forEach(c => c.replaceWith(c.title));
        return copy.textContent.trim(); })""")
    assert reasons == [flag["reason"] for flag in run["flags"]]
    assert reasons, "a flagged run shows why it was flagged"
    shown_reasons = " ".join(page.locator("#run-flags .flag-reason").all_inner_texts())
    assert ISO_TIME.search(shown_reasons) is None
    assert page.errors == []


def test_window_lengths_read_as_durations(page: Any, demo: PlatformProcess) -> None:
    """A window with a fraction of a second (the demo's learners look away for 10 to 45 s) is
    shown to the second, "27 s" or "1 min 3 s", never "27.318"."""
    runs = demo.get("/api/v1/runs", limit=200)["runs"]
    run = next(found for found in (demo.get(f"/api/v1/runs/{r['run_id']}") for r in runs)
               if any(w["inactive_seconds"] % 1 for w in found["windows"]))
    _open(page, f"{demo.base_url}/runs/{run['run_id']}")
    cells = page.locator("#windows-table [data-field$='_seconds'],"
                         " #run-totals [data-field$='_seconds']").evaluate_all(FIGURES_JS)
    assert len(cells) == 2 * len(run["windows"]) + 2
    for field, raw, text in cells:
        assert SHORT_DURATION.fullmatch(text.strip()) or "h" in text, (field, raw, text)
        _shown(field, raw, text)


def test_courses_page_is_the_api(page: Any, demo: PlatformProcess) -> None:
    _open(page, demo.base_url + "/courses")
    screenshot(page, "courses")
    api = {course["course_id"]: course for course in demo.get("/api/v1/courses")["courses"]}
    shown = _rows(page, "#courses-table tbody tr[data-course]", "data-course")
    assert set(shown) == set(api)
    assert len(api) >= 4
    for course_id, values in shown.items():
        expected = {**api[course_id], "progress_average": api[course_id]["progress"]["average"]}
        for field, value in values.items():
            assert value == expected[field], (course_id, field)
    course_id = sorted(api)[0]
    page.click(f"#courses-table tr[data-course='{course_id}'] a")
    page.wait_for_selector("#course-progress-table")
    screenshot(page, "course")
    one = demo.get(f"/api/v1/courses/{quote(course_id)}")
    for field, value in _values(page, ".kpis").items():
        assert value == {**one, "progress_average": one["progress"]["average"]}[field], field
    progress = _rows(page, "#course-progress-table tbody tr[data-learner]", "data-learner")
    book = demo.get("/api/v1/gradebook", course=course_id)["progress"]
    assert progress == {p["learner"]: {"progress": p["progress"], "completions": p["completions"],
                                       "xp": p["xp"]} for p in book}
    activities = [_shown(field, raw, text) for field, raw, text in page.locator(
        "#course-activities-table tbody tr").evaluate_all(FIGURES_JS)]
    items = demo.get("/api/v1/gradebook", course=course_id)["line_items"]
    assert activities == [figure for item in items
                          for figure in (len(item["results"]), item["mean_score"])]
    assert any(item["mean_score"] is not None for item in items)
    assert page.errors == []


def test_integration_page_lists_every_fault_with_its_events(page: Any,
                                                            demo: PlatformProcess) -> None:
    _open(page, demo.base_url + "/integration")
    flags = demo.get("/api/v1/flags", category="integration")["flags"]
    kinds = {flag["kind"] for flag in flags}
    assert len(kinds) >= 4, "the demo shows most kinds of integration fault"
    assert page.locator("#flags-list [data-flag]").evaluate_all(
        "items => items.map(i => i.dataset.flag)") == [flag["key"] for flag in flags]
    first = page.locator("#flags-list [data-flag]").first
    first.locator("details:not(.review) summary").click()
    for event_id in flags[0]["event_ids"]:
        assert first.locator(f"[data-event='{event_id}'] pre").inner_text().find(event_id) > 0
    reasons = " ".join(page.locator(".flag-reason").all_inner_texts())
    assert ISO_TIME.search(reasons) is None, "a raw ISO time in a flag's text"
    screenshot(page, "integration")
    page.select_option("#fault-kind", flags[-1]["kind"])
    page.click("text=Filter")
    page.wait_for_url("**kind=**")
    assert page.locator("#flags-list [data-flag]").count() == len(
        demo.get("/api/v1/flags", kind=flags[-1]["kind"])["flags"])
    assert page.errors == []


def test_needs_attention_lists_learning_flags_only(page: Any, demo: PlatformProcess) -> None:
    _open(page, demo.base_url + "/flags")
    learning = demo.get("/api/v1/flags", category="learning")["flags"]
    assert page.locator("#flags-list [data-flag], [data-empty=flags]").count() >= 1
    shown = page.locator("#flags-list [data-flag]").evaluate_all(
        "items => items.map(i => i.dataset.flag)")
    assert shown == [flag["key"] for flag in learning]
    integration = {flag["key"] for flag in demo.get("/api/v1/flags",
                                                     category="integration")["flags"]}
    assert integration and not integration & set(shown)
    screenshot(page, "needs-attention")
    assert page.errors == []


def test_navigation_class_to_learner_to_run_by_clicking(
        page: Any, demo: PlatformProcess) -> None:
    _open(page, demo.base_url + "/")
    link = page.locator("#class-table a.learner-link").first
    email = link.locator("xpath=ancestor::tr").get_attribute("data-learner")
    link.click()
    page.wait_for_selector("#learner-name")
    assert page.locator("#learner-name").get_attribute("data-email") == email
    run_link = page.locator("#runs-table a.run-link").first
    run_id = run_link.get_attribute("data-run")
    run_link.click()
    page.wait_for_selector("#run-title")
    assert page.locator("#run-title").get_attribute("data-run") == run_id
    assert page.url.endswith(f"/runs/{run_id}")
    page.click(f".crumbs a[href='/learners/{quote(email, safe='')}']")
    page.wait_for_selector("#learner-name")
    assert page.errors == []


def test_events_explorer_shows_new_events_as_they_arrive(
        page: Any, demo: PlatformProcess) -> None:
    page.clock.install()
    _open(page, demo.base_url + "/events")
    rows = page.locator("#events-table tbody tr[data-seq]")
    assert rows.count() == 50
    newest = int(rows.first.get_attribute("data-seq"))
    page.locator("#events-table tbody tr").first.locator("summary").click()
    raw = json.loads(page.locator("#events-table tbody tr").first.locator("pre").inner_text())
    assert raw == demo.get("/caliper/events", limit=1)["events"][0]["event"]
    screenshot(page, "events")
    seed_two_learners(demo)  # 22 events for two new learners, through the Caliper API
    page.clock.fast_forward(6000)
    page.wait_for_selector(f"#events-table tbody tr[data-seq='{newest + 22}']")
    assert page.locator("#events-table tbody tr").first.get_attribute("data-seq") == str(
        newest + 22)
    page.click("#events-older")
    page.locator("#events-table tbody tr").nth(121).wait_for()
    page.fill("input[name=learner]", LEARNERS[0])
    page.click("#events-filter button")
    page.wait_for_url("**learner=**")
    assert set(page.locator("#events-table tbody td:nth-child(4)").all_inner_texts()) == {
        LEARNERS[0]}
    page.select_option("#events-filter select[name=type]", "ActivityEvent")
    page.click("#events-filter button")
    page.wait_for_url("**type=ActivityEvent**")
    completions = demo.get("/caliper/events", learner=LEARNERS[0], type="ActivityEvent")
    assert page.locator("#events-table tbody tr[data-seq]").evaluate_all(
        "rows => rows.map(r => Number(r.dataset.seq))") == [
        event["seq"] for event in completions["events"]]
    assert page.errors == []


def test_sign_in_is_required_when_login_is_required(
        page: Any, locked: PlatformProcess, locked_runs: dict[str, str]) -> None:
    reply = page.goto(locked.base_url + "/learners")
    assert reply.status == 401
    screenshot(page, "sign-in")
    page.fill("input[name=username]", ADMIN[0])
    page.fill("input[name=password]", "not the password")
    page.click("#login-form button")
    page.wait_for_selector("#login-error")
    page.fill("input[name=password]", ADMIN[1])
    page.click("#login-form button")
    page.wait_for_selector("#learners-table")
    assert page.url == locked.base_url + "/learners"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["tl_session"]["httpOnly"] is True
    assert cookies["tl_session"]["sameSite"] == "Lax"
    page.click("#sign-out")
    page.wait_for_selector("#login-form")
    assert page.goto(locked.base_url + "/").status == 401
    # Only the 401 replies may be logged as errors.
    assert all("401" in error for error in page.errors)


def test_a_shared_link_shows_the_student_their_own_pages(
        browser: Any, locked: PlatformProcess, locked_runs: dict[str, str],
        console_errors: Callable[[Any], list[str]]) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    try:
        page = context.new_page()
        errors = console_errors(page)
        page.goto(share_link(locked, LEARNERS[1]))
        page.wait_for_selector("#learner-name")
        _charts_drawn(page)
        screenshot(page, "shared-learner")
        assert page.locator("#learner-name").get_attribute("data-email") == LEARNERS[1]
        assert page.locator(".mainnav a").all_inner_texts() == ["My progress"]
        assert page.locator("#share-button").count() == 0
        page.click("#runs-table a.run-link")
        page.wait_for_selector("#run-title")
        assert page.goto(f"{locked.base_url}/learners/{quote(LEARNERS[0])}").status == 403
        assert LEARNERS[0] not in page.content()
        assert page.goto(f"{locked.base_url}/").status == 403
        assert all("403" in error for error in errors)
    finally:
        context.close()


def test_the_class_view_is_the_api_sorts_filters_and_picks_ranges(
        page: Any, demo: PlatformProcess) -> None:
    _open(page, demo.base_url + "/")
    screenshot(page, "class")
    api = {row["email"]: row for row in demo.get("/api/v1/class")["learners"]}
    assert api, "the demo has learners this week"
    cells = page.locator("#class-table tbody tr[data-learner]")
    assert cells.count() == len(api)
    for field, period, name in (("today_minutes", "today", "active_minutes"),
                                ("range_minutes", "range", "active_minutes"),
                                ("today_xp", "today", "xp"), ("range_xp", "range", "xp")):
        shown = cells.evaluate_all(
            f"""rows => rows.map(r => {{ const c = r.querySelector('[data-field={field}]');
                return [r.dataset.learner, JSON.parse(c.dataset.value), c.dataset.status,
                        c.querySelector('.figure').textContent,
                        c.querySelector('.status').textContent]; }})""")
        for email, value, status, figure, words in shown:
            expected = api[email][period]
            assert value == expected[name], (email, field)
            assert status == (expected[f"{name}_status"] or ""), (email, field)
            _shown(field, json.dumps(value), figure)
            assert words.strip() in ("✓ met", "≈ close", "✗ missed", "no goal")
    # accuracy, the needs-attention marker and the concerns are the API's too
    for email, accuracy, attention, marked, concerns in cells.evaluate_all(
            """rows => rows.map(r => [r.dataset.learner,
                JSON.parse(r.querySelector('[data-field=accuracy]').dataset.value),
                JSON.parse(r.querySelector('[data-field=needs_attention]').dataset.value),
                r.querySelector('[data-field=needs_attention] .marker') !== null,
                [...r.querySelectorAll('[data-concern]')].map(c => c.dataset.concern)])"""):
        assert accuracy == api[email]["accuracy"], email
        assert attention == marked == api[email]["needs_attention"], email
        assert concerns == [c["kind"] for c in api[email]["concerns"]], email
    assert any(r["needs_attention"] for r in api.values()), "the demo has someone to look at"
    # Both sides of the goals, on the school day before today: a whole day at any hour (just
    # after midnight this week's goals count a today nobody has started)
    whole_day = date.fromisoformat(demo.get("/api/v1/class")["today"]) - timedelta(days=1)
    while whole_day.weekday() >= 5:
        whole_day -= timedelta(days=1)
    rows = demo.get("/api/v1/class", **{"from": whole_day.isoformat(),
                                         "to": whole_day.isoformat()})["learners"]
    met = [r for r in rows if r["range"]["active_minutes_status"] == "met"]
    missed = [r for r in rows if r["range"]["active_minutes_status"] != "met"]
    assert met and missed, "the demo has learners on both sides of their goals"
    last = page.locator("#class-table time.when").first
    assert last.get_attribute("tabindex") == "0" and last.get_attribute("title")
    assert ISO_TIME.search(page.locator("#class-table").inner_text()) is None
    page.click("#class-table th a[data-sort=range_minutes]")
    page.wait_for_url("**sort=range_minutes**")
    values = page.locator("#class-table [data-field=range_minutes]").evaluate_all(
        "cells => cells.map(c => JSON.parse(c.dataset.value))")
    assert values == sorted(values, reverse=True)
    course = next(iter(api.values()))["courses"][0]
    page.select_option("#class-course", course)
    page.check("input[name=range][value=last_week]")
    page.click("#class-filters button[type=submit]")
    page.wait_for_url("**range=last_week**")
    week = demo.get("/api/v1/class", course=course, **{
        "from": page.locator("#class-from").input_value(),
        "to": page.locator("#class-to").input_value()})
    assert sorted(page.locator("#class-table tbody tr[data-learner]").evaluate_all(
        "rows => rows.map(r => r.dataset.learner)")) == sorted(
            row["email"] for row in week["learners"])
    # a custom range (the school day before today, a whole day in the demo at any hour): the
    # dates typed are the API's range
    this_week = demo.get("/api/v1/class", course=course)
    day = date.fromisoformat(this_week["today"]) - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    first = last = day.isoformat()
    page.check("input[name=range][value=custom]")
    page.fill("#class-from", first)
    page.fill("#class-to", last)
    page.click("#class-filters button[type=submit]")
    page.wait_for_url("**range=custom**")
    custom = demo.get("/api/v1/class", course=course, **{"from": first, "to": last})
    assert custom["range"] == {"from": first, "to": last}
    shown = page.locator("#class-table [data-field=range_minutes]").evaluate_all(
        "cells => cells.map(c => [c.closest('tr').dataset.learner, JSON.parse(c.dataset.value)])")
    assert sorted(shown) == sorted([row["email"], row["range"]["active_minutes"]]
                                   for row in custom["learners"])
    # (against last week: just after midnight this week holds only the day before today)
    assert sorted(shown) != sorted([row["email"], row["range"]["active_minutes"]]
                                   for row in week["learners"]), "a range of its own"
    # today: the range is today alone, and its figures are each learner's today
    page.check("input[name=range][value=today]")
    page.click("#class-filters button[type=submit]")
    page.wait_for_url("**range=today**")
    today = this_week["today"]
    assert (page.locator("#class-from").input_value(),
            page.locator("#class-to").input_value()) == (today, today)
    only_today = demo.get("/api/v1/class", course=course, **{"from": today, "to": today})
    shown = page.locator("#class-table [data-field=range_minutes]").evaluate_all(
        "cells => cells.map(c => [c.closest('tr').dataset.learner, JSON.parse(c.dataset.value)])")
    assert sorted(shown) == sorted([row["email"], row["today"]["active_minutes"]]
                                   for row in only_today["learners"])
    page.set_viewport_size({"width": 390, "height": 844})
    _open(page, demo.base_url + "/")
    screenshot(page, "class-phone")
    assert page.errors == []
