"""Plotly figure specs (plain dicts) for the pages; dashboard.js draws them with plotly.js."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

ACCENT = "#3358d4"
GOOD = "#1b8a4b"
INACTIVE = "#c5cbd3"
GOAL = "#b45d09"
BAD = "#c62d2d"
_AXIS_DAY = date(2000, 1, 3)
_TODAY = {ACCENT: "#1f3aa3", GOOD: "#0f5c31", BAD: "#8c1d1d"}  # today's bar, a shade darker


def _date_axis() -> dict[str, Any]:
    return {"type": "date", "tickformat": "%-d %b", "dtick": 3 * 86_400_000, "tickangle": 0,
            "gridcolor": "rgba(0,0,0,0)"}


def daily_bars(dates: Sequence[str], values: Sequence[float], unit: str, *,
               goal: float | None = None, color: str = ACCENT) -> dict[str, Any]:
    """One bar per day, the last (today) darker, with an optional dashed daily-goal line."""
    colors = [color] * (len(values) - 1) + [_TODAY.get(color, color)] if values else []
    data: list[dict[str, Any]] = [{
        "type": "bar", "x": list(dates), "y": list(values), "name": unit,
        "marker": {"color": colors},
        "hovertemplate": "%{x|%a %d %b}: %{y:,.4~f} " + unit + "<extra></extra>",
    }]
    if goal is not None and dates:
        data.append({
            "type": "scatter", "mode": "lines", "x": [dates[0], dates[-1]], "y": [goal, goal],
            "name": "daily goal", "line": {"color": GOAL, "dash": "dash", "width": 2},
            "hovertemplate": f"daily goal: {goal:g} {unit}<extra></extra>",
        })
    return {"data": data, "layout": {"xaxis": _date_axis(),
                                     "yaxis": {"title": {"text": unit}, "rangemode": "tozero"}}}


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def run_timeline(windows: Sequence[dict[str, Any]], timezone: str) -> dict[str, Any]:
    """Each window as a bar at its local time of day, one row per day the run had time on:
    its active share (green) first, then its inactive share (grey).

    A window reports how much of it was active, not when: drawing the active part first is a
    convention, stated under the chart."""
    zone = ZoneInfo(timezone)
    parts: dict[str, dict[str, list[Any]]] = {
        name: {"y": [], "base": [], "x": [], "text": []} for name in ("active", "inactive")}
    for window in windows:
        start = _parse(window["start"]).astimezone(zone)
        end = _parse(window["end"]).astimezone(zone)
        span_ms = max((end - start) / timedelta(milliseconds=1), 0.0)
        active_ms = min(window["active_seconds"] * 1000, span_ms)
        day = start.date().isoformat()
        # Every row shares one date, so the x axis is the time of day.
        base = datetime.combine(_AXIS_DAY, start.time())
        label = (f"{start:%H:%M:%S}–{end:%H:%M:%S}: {window['active_seconds']:g} s active, "
                 f"{window['inactive_seconds']:g} s inactive")
        for name, offset, length in (("active", 0.0, active_ms),
                                     ("inactive", active_ms, span_ms - active_ms)):
            part = parts[name]
            part["y"].append(day)
            part["base"].append((base + timedelta(milliseconds=offset)).isoformat())
            part["x"].append(max(length, 0.0))
            part["text"].append(label)

    def trace(name: str, color: str) -> dict[str, Any]:
        part = parts[name]
        return {"type": "bar", "orientation": "h", "name": name, **part, "textposition": "none",
                "marker": {"color": color}, "hovertemplate": "%{text}<extra></extra>"}

    days = sorted(set(parts["active"]["y"]))
    return {"data": [trace("active", GOOD), trace("inactive", INACTIVE)],
            "layout": {"barmode": "overlay", "bargap": 0.3, "height": 70 + 42 * len(days),
                       "margin": {"l": 96, "r": 16, "t": 8, "b": 36},
                       "xaxis": {"type": "date", "tickformat": "%H:%M"},
                       "yaxis": {"type": "category", "categoryorder": "array",
                                 "categoryarray": days, "autorange": "reversed"}}}
