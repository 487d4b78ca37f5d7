"""Chart geometry for server-rendered SVG: bars per day against a goal, and a run's timeline.

The pages draw these with the `_charts.html` macros: no chart JavaScript, nothing to download, and
each chart carries its text alternative. Horizontal positions are percentages of the chart's width
(so a chart fits any screen without scaling its text); vertical ones are pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from timeledger.server.dashboard import numbers

BarKind = Literal["met", "missed", "plain", "alert"]

BAR_HEIGHT_PX = 200
PLOT_TOP_PX = 10
PLOT_BOTTOM_PX = 176  # the day labels sit below
LEFT_PCT = 12.0  # the value labels' column (numbers only: the title names the unit)
BAR_SHARE = 0.72  # of each day's slot
TIMELINE_ROW_PX = 34
TIMELINE_AXIS_PX = 24


@dataclass(frozen=True)
class Bar:
    day: str  # YYYY-MM-DD
    label: str  # "Mon 30 Nov"
    value: float | None  # None: no figure that day (accuracy without questions)
    text: str  # the value as a person reads it, with its unit
    kind: BarKind
    x_pct: float
    width_pct: float
    y_px: float
    height_px: float

    @property
    def goal_met(self) -> bool | None:
        return {"met": True, "missed": False}.get(self.kind)


@dataclass(frozen=True)
class Tick:
    pos: float  # px from the top (value ticks) or percent from the left (day or hour labels)
    text: str


@dataclass(frozen=True)
class BarChart:
    chart_id: str
    title: str
    unit: str
    bars: list[Bar]
    value_ticks: list[Tick]
    day_labels: list[Tick]
    goal: float | None
    goal_text: str
    goal_y_px: float | None
    summary: str
    height_px: int = BAR_HEIGHT_PX
    left_pct: float = LEFT_PCT

    @property
    def kinds(self) -> list[BarKind]:
        """The bar kinds drawn, in legend order."""
        seen = {bar.kind for bar in self.bars}
        return [kind for kind in ("met", "missed", "plain", "alert") if kind in seen]


def day_label(day: str) -> str:
    """`Mon 30 Nov`: the weekday matters to a teacher (a Monday dip is the weekend)."""
    return date.fromisoformat(day).strftime("%a %d %b").replace(" 0", " ")


def short_day_label(day: str) -> str:
    """`Mon 30`, under a bar."""
    return date.fromisoformat(day).strftime("%a %d").replace(" 0", " ")


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and a few round steps (1, 2, 2.5 or 5 × 10^k) up to at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    steps = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(steps + 1)]


def daily_bars(chart_id: str, title: str, dates: Sequence[str],
               values: Sequence[float | None], unit: str, fmt: Callable[[float | None], str], *,
               goal: float | None = None,
               alert: bool = False) -> BarChart:
    """One bar per day. With a daily goal each bar is `met` or `missed` (and a dashed goal line
    is drawn); without one bars are `plain`, or `alert` for counts of problems."""
    if len(dates) != len(values):
        raise ValueError("one value per date")
    ticks = nice_ticks(max([*(value or 0.0 for value in values), goal or 0.0, 0.0]))
    top = ticks[-1]

    def y_of(value: float | None) -> float:
        return PLOT_BOTTOM_PX - (PLOT_BOTTOM_PX - PLOT_TOP_PX) * max(value or 0.0, 0.0) / top

    slot = (100.0 - LEFT_PCT) / max(len(dates), 1)
    bars = []
    for index, (day, value) in enumerate(zip(dates, values, strict=True)):
        kind: BarKind = ("alert" if alert else "plain") if goal is None else (
            "met" if value is not None and value >= goal else "missed")
        y = y_of(value)
        bars.append(Bar(day=day, label=day_label(day), value=value, text=fmt(value), kind=kind,
                        x_pct=round(LEFT_PCT + slot * (index + (1 - BAR_SHARE) / 2), 3),
                        width_pct=round(slot * BAR_SHARE, 3), y_px=round(y, 2),
                        height_px=round(PLOT_BOTTOM_PX - y, 2)))
    every = max(1, math.ceil(len(dates) / 5))  # five labels fit a phone
    labels = [Tick(round(LEFT_PCT + slot * (index + 0.5), 3), short_day_label(day))
              for index, day in enumerate(dates) if (len(dates) - 1 - index) % every == 0]
    goal_text = f"daily goal {fmt(goal)}" if goal is not None else ""
    return BarChart(
        chart_id=chart_id, title=title, unit=unit, bars=bars,
        value_ticks=[Tick(round(y_of(tick), 2), numbers.decimal(tick)) for tick in ticks],
        day_labels=labels, goal=goal, goal_text=goal_text,
        goal_y_px=None if goal is None else round(y_of(goal), 2),
        summary=_bar_summary(title, bars, goal, goal_text))


def _bar_summary(title: str, bars: Sequence[Bar], goal: float | None, goal_text: str) -> str:
    if not bars:
        return f"{title}: no days."
    busiest = max(bars, key=lambda bar: bar.value or 0.0)
    text = (f"{title}, {bars[0].label} to {bars[-1].label}. Highest {busiest.text} on "
            f"{busiest.label}; today {bars[-1].text}.")
    if goal is not None:
        met = sum(bar.kind == "met" for bar in bars)
        text += f" Goal met on {met} of {len(bars)} days ({goal_text})."
    return text


@dataclass(frozen=True)
class Span:
    """One reported window's active or inactive share, on its day's row."""
    part: Literal["active", "inactive"]
    x_pct: float
    width_pct: float
    length_ms: float
    text: str


@dataclass(frozen=True)
class TimelineRow:
    day: str
    label: str
    y_px: float
    spans: list[Span]


@dataclass(frozen=True)
class Timeline:
    chart_id: str
    rows: list[TimelineRow]
    hour_labels: list[Tick]
    summary: str

    @property
    def height_px(self) -> int:
        return TIMELINE_ROW_PX * len(self.rows) + TIMELINE_AXIS_PX


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def run_timeline(chart_id: str, windows: Sequence[dict[str, Any]], timezone: str) -> Timeline:
    """Each window as a bar at its local time of day, one row per day the run had time on:
    its active share first, then its inactive share.

    A window reports how much of it was active, not when: drawing the active part first is a
    convention, stated under the chart."""
    zone = ZoneInfo(timezone)
    placed: list[tuple[str, float, float, float, str]] = []  # day, start, span, active, text
    for window in windows:
        start = _parse(window["start"]).astimezone(zone)
        end = _parse(window["end"]).astimezone(zone)
        span_ms = max((end - start) / timedelta(milliseconds=1), 0.0)
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        offset_ms = (start - midnight) / timedelta(milliseconds=1)
        text = (f"{start:%H:%M:%S}–{end:%H:%M:%S}: {window['active_seconds']:g} s active, "
                f"{window['inactive_seconds']:g} s inactive")
        placed.append((start.date().isoformat(), offset_ms, span_ms,
                       min(window["active_seconds"] * 1000, span_ms), text))
    hour = 3_600_000
    first = math.floor(min((p[1] for p in placed), default=0) / hour) * hour
    last = math.ceil(max((p[1] + p[2] for p in placed), default=hour) / hour) * hour
    last = max(last, first + hour)
    width = last - first

    def pct(ms: float) -> float:
        return round((ms - first) * 100 / width, 4)

    days = sorted({p[0] for p in placed})
    rows = []
    for index, day in enumerate(days):
        spans = []
        for day_of, offset, span, active, text in placed:
            if day_of != day:
                continue
            spans.append(Span("active", pct(offset), pct(first + active), active, text))
            spans.append(Span("inactive", pct(offset + active), pct(first + span - active),
                              span - active, text))
        rows.append(TimelineRow(day, day_label(day), TIMELINE_ROW_PX * index, spans))
    minute = 60_000
    step = next((m * minute for m in (15, 30, 60, 120, 180, 360) if width / (m * minute) <= 6),
                720 * minute)
    labels = [Tick(pct(at), f"{int(at // hour) % 24:02d}:{int(at % hour // minute):02d}")
              for at in range(int(first), int(last) + 1, int(step))]
    active_s = sum(p[3] for p in placed) / 1000
    total_s = sum(p[2] for p in placed) / 1000
    summary = (f"{len(placed)} reported windows on {len(days)} day"
               f"{'' if len(days) == 1 else 's'}: {active_s:g} s active of {total_s:g} s.")
    return Timeline(chart_id, rows, labels, summary)


OVERVIEW_SERIES: dict[str, tuple[str, str, Callable[[float | None], str]]] = {
    "active_learners": ("Active learners per day", "learners", numbers.count),
    "active_minutes": ("Active minutes per day", "active minutes", numbers.minutes),
    "xp": ("XP per day", "XP", numbers.xp),
    "completions": ("Completions per day", "completions", numbers.count),
    "accuracy": ("Accuracy per day (% correct)", "accuracy", numbers.percent),
    "flags": ("Flags raised per day", "flags", numbers.count),
}


def overview_charts(dates: Sequence[str],
                    series: dict[str, Sequence[float | None]]) -> dict[str, BarChart]:
    """The overview's six charts (school-wide, so no goal line)."""
    return {name: daily_bars(f"chart-{name}", title, dates, series[name], unit, fmt,
                             alert=name == "flags")
            for name, (title, unit, fmt) in OVERVIEW_SERIES.items()}


def learner_charts(dates: Sequence[str], by_date: dict[str, dict[str, Any]],
                   goals: dict[str, float]) -> dict[str, BarChart]:
    """A learner's active minutes and XP per day, each against the sum of their courses'
    daily goals."""
    return {
        "minutes": daily_bars(
            "chart-minutes", "Active minutes per day", dates,
            [by_date[d]["active_minutes"] if d in by_date else 0 for d in dates],
            "active minutes", numbers.minutes, goal=goals.get("dailyActiveMinutes")),
        "xp": daily_bars(
            "chart-xp", "XP per day", dates,
            [by_date[d]["xp"] if d in by_date else 0 for d in dates], "XP", numbers.xp,
            goal=goals.get("dailyXp")),
    }
