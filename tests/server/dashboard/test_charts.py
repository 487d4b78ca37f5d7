"""Chart geometry: round value ticks, bars marked against the goal, a timeline to one scale."""

from __future__ import annotations

import pytest

from timeledger.server.dashboard import charts, numbers

pytestmark = pytest.mark.unit


def test_ticks_are_round_and_reach_the_top() -> None:
    assert charts.nice_ticks(57) == [0, 20, 40, 60]
    assert charts.nice_ticks(1376.2) == [0, 500, 1000, 1500]
    assert charts.nice_ticks(4) == [0, 1, 2, 3, 4]
    assert charts.nice_ticks(0) == [0, 1]


def test_bars_are_met_or_missed_against_the_goal_and_drawn_to_scale() -> None:
    dates = ["2026-11-28", "2026-11-29", "2026-11-30"]
    chart = charts.daily_bars("c", "Active minutes per day", dates, [30, 59.9, 61], "minutes",
                              numbers.minutes, goal=60)
    assert [bar.kind for bar in chart.bars] == ["missed", "missed", "met"]
    assert [bar.goal_met for bar in chart.bars] == [False, False, True]
    assert chart.kinds == ["met", "missed"]
    plot = charts.PLOT_BOTTOM_PX - charts.PLOT_TOP_PX
    top = charts.nice_ticks(61)[-1]
    assert [bar.height_px for bar in chart.bars] == pytest.approx(
        [value * plot / top for value in (30, 59.9, 61)], abs=0.01)
    assert chart.goal_y_px == pytest.approx(charts.PLOT_BOTTOM_PX - 60 * plot / top, abs=0.01)
    assert "Goal met on 1 of 3 days" in chart.summary
    assert "Mon 30 Nov" in chart.summary  # weekday and day, never an ISO date in prose
    # Bars sit left to right in their day's slot, inside the chart.
    lefts = [bar.x_pct for bar in chart.bars]
    assert lefts == sorted(lefts)
    assert chart.bars[-1].x_pct + chart.bars[-1].width_pct < 100


def test_without_a_goal_bars_are_plain_and_missing_figures_are_empty() -> None:
    chart = charts.daily_bars("c", "Accuracy", ["2026-11-29", "2026-11-30"], [None, 80.0], "%",
                              numbers.percent)
    assert [bar.kind for bar in chart.bars] == ["plain", "plain"]
    assert chart.bars[0].height_px == 0
    assert chart.bars[0].text == "–"
    assert chart.goal_y_px is None


def test_a_timeline_places_windows_at_their_time_of_day() -> None:
    windows = [
        {"start": "2026-11-30T09:10:00Z", "end": "2026-11-30T09:11:00Z",
         "active_seconds": 45.0, "inactive_seconds": 15.0},
        {"start": "2026-11-30T10:40:00Z", "end": "2026-11-30T10:41:00Z",
         "active_seconds": 60.0, "inactive_seconds": 0.0},
    ]
    timeline = charts.run_timeline("t", windows, "UTC")
    assert [row.day for row in timeline.rows] == ["2026-11-30"]
    spans = timeline.rows[0].spans
    # The axis runs 09:00 to 11:00: 09:10 is 1/12 of the way, 45 s is 45/7200 of it.
    assert spans[0].x_pct == pytest.approx(100 / 12, abs=1e-3)
    assert spans[0].width_pct == pytest.approx(45 * 100 / 7200, abs=1e-3)
    assert spans[1].x_pct == pytest.approx(spans[0].x_pct + spans[0].width_pct, abs=1e-3)
    assert spans[2].x_pct == pytest.approx(100 * 100 / 120, abs=1e-3)
    assert timeline.hour_labels[0].text == "09:00"
    assert timeline.hour_labels[-1].text == "11:00"
