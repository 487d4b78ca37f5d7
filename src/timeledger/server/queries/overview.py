"""Per-day series across all learners (the overview), read from the learner-day projection.

Served as `/api/v1/overview` and drawn by the dashboard's overview page. It uses the same
projection and unit helpers as the per-learner summaries, and flags come from the flags table (by
the time of the event that raised them), so each day is also the sum of what the API reports per
learner (tests/server/dashboard check both). Every read is bounded by the window, not by history.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from timeledger.server.queries.figures import accuracy, minutes, xp
from timeledger.server.queries.flags import list_flags
from timeledger.server.store.projection_tables import flags, learner_days

SERIES = ("active_learners", "active_minutes", "xp", "completions", "accuracy", "flags")


def day_range(today: date, days: int) -> list[str]:
    return [(today - timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


def _flags_per_day(conn: sa.Connection, dates: list[str], zone: ZoneInfo) -> dict[str, int]:
    """How many flags were raised on each local day: one pass over the window's stretch of the
    event-time index, counted by the database (each day's bounds in UTC, so 23- and 25-hour days
    count right)."""
    bounds = [datetime.combine(date.fromisoformat(day), time(0), zone).astimezone(UTC)
              for day in dates]
    bounds.append(datetime.combine(date.fromisoformat(dates[-1]) + timedelta(days=1), time(0),
                                   zone).astimezone(UTC))
    t = flags.c.event_time
    counts = conn.execute(sa.select(*(
        sa.func.count().filter(t >= start, t < end)
        for start, end in itertools.pairwise(bounds))).where(
        t >= bounds[0], t < bounds[-1])).one()
    return {day: int(count) for day, count in zip(dates, counts, strict=True)}


def overview(conn: sa.Connection, today: date, timezone: str, days: int = 14) -> dict[str, Any]:
    """{dates: [YYYY-MM-DD, oldest first, ending today], series: {name: [value per date]},
    today: {name: value}, window: {name: total over the dates; learners counted once},
    recent_flags: [the five newest flags, as list_flags]}. Accuracy is percent correct over the
    day's questions (None without questions), as the API computes it."""
    dates = day_range(today, days)
    d = learner_days.c
    rows = {row.local_date: row for row in conn.execute(
        sa.select(d.local_date,
                  sa.func.count(sa.distinct(d.learner_email)).label("learners"),
                  sa.func.coalesce(sa.func.sum(d.active_ms), 0).label("active_ms"),
                  sa.func.coalesce(sa.func.sum(d.xp_milli), 0).label("xp_milli"),
                  sa.func.coalesce(sa.func.sum(d.completions), 0).label("completions"),
                  sa.func.coalesce(sa.func.sum(d.total_questions), 0).label("total_questions"),
                  sa.func.coalesce(sa.func.sum(d.correct_questions), 0).label("correct"))
        .where(d.local_date >= dates[0], d.local_date <= dates[-1])
        .group_by(d.local_date))}
    window_learners = conn.execute(
        sa.select(sa.func.count(sa.distinct(d.learner_email)))
        .where(d.local_date >= dates[0], d.local_date <= dates[-1])).scalar_one()
    window_sums = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(d.active_ms), 0),
                  sa.func.coalesce(sa.func.sum(d.xp_milli), 0),
                  sa.func.coalesce(sa.func.sum(d.total_questions), 0),
                  sa.func.coalesce(sa.func.sum(d.correct_questions), 0))
        .where(d.local_date >= dates[0], d.local_date <= dates[-1])).one()
    flags_per_day = _flags_per_day(conn, dates, ZoneInfo(timezone))
    series: dict[str, list[Any]] = {name: [] for name in SERIES}
    for day in dates:
        row = rows.get(day)
        series["active_learners"].append(int(row.learners) if row else 0)
        series["active_minutes"].append(minutes(int(row.active_ms)) if row else 0.0)
        series["xp"].append(xp(int(row.xp_milli)) if row else 0)
        series["completions"].append(int(row.completions) if row else 0)
        series["accuracy"].append(accuracy(int(row.total_questions), int(row.correct))
                                  if row else None)
        series["flags"].append(flags_per_day[day])
    return {
        "dates": dates,
        "series": series,
        "today": {name: values[-1] for name, values in series.items()},
        "window": {
            "active_learners": int(window_learners),
            "active_minutes": minutes(int(window_sums[0])),
            "xp": xp(int(window_sums[1])),
            "completions": sum(series["completions"]),
            "accuracy": accuracy(int(window_sums[2]), int(window_sums[3])),
            "flags": sum(series["flags"]),
        },
        "recent_flags": list_flags(conn, limit=5),
    }
