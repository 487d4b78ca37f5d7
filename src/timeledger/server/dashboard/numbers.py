"""How the dashboard writes numbers, durations, days and times for people: one format per unit.

Every page formats through here: minutes as "1 h 12 min", "12 min ago" with the exact time on
hover and focus, weekdays on days, runIds shortened with a copy button, and no raw ISO time in
prose (flag reasons are rewritten by `prose`). Times are in the platform's time zone.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

# A UTC time as the API writes it, and a runId (a UUID), inside a text written for people.
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
RUN_ID_SHOWN = 8  # characters of a runId shown; the copy button copies all of it


def count(value: float | None) -> str:
    """`1,234`; a missing value is a dash."""
    if value is None:
        return "–"
    return f"{round(value):,}"


def decimal(value: float | None, places: int = 1) -> str:
    """`1,234.5`, dropping a trailing `.0` so whole numbers read as whole."""
    if value is None:
        return "–"
    text = f"{value:,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def minutes(value: float | None) -> str:
    """A duration given in minutes: `45 min`, `1 h 12 min`, `140 h`, `< 1 min` for a moment."""
    if value is None:
        return "–"
    whole = round(value)
    if whole == 0:
        return "< 1 min" if value > 0 else "0 min"
    hours, rest = divmod(whole, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours:,} h" if not rest else f"{hours:,} h {rest} min"


def seconds(value: float | None) -> str:
    """A duration given in seconds: `55 s`, `2 min 5 s`, then as minutes past an hour."""
    if value is None:
        return "–"
    whole = round(value)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        mins, secs = divmod(whole, 60)
        return f"{mins} min" if not secs else f"{mins} min {secs} s"
    return minutes(whole / 60)


def xp(value: float | None) -> str:
    return "–" if value is None else f"{decimal(value)} XP"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{decimal(value)} %"


def _parsed(value: datetime | str) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def moment(value: datetime | str | None, timezone: str = "UTC") -> str:
    """`Mon 17 Nov 2025, 09:30:05` in the platform's time zone."""
    if value is None or value == "":
        return "–"
    local = _parsed(value).astimezone(ZoneInfo(timezone))
    return local.strftime("%a %d %b %Y, %H:%M:%S")


def day(value: date | str | None) -> str:
    """A local day with its weekday: `Mon 17 Nov 2025`."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return value.strftime("%a %d %b %Y")


def short_day(value: date | str | None) -> str:
    """A local day in a table: `Mon 17 Nov`."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return value.strftime("%a %d %b")


def ago(value: datetime | str | None, now: datetime, timezone: str = "UTC") -> str:
    """How long before `now`: `just now`, `12 min ago`, `3 h ago`, `yesterday`, `4 days ago`, then
    the day (`Mon 17 Nov 2025`)."""
    if value is None or value == "":
        return "never"
    moment_ = _parsed(value)
    gone = now - moment_
    if gone < timedelta(minutes=1):
        return "just now"
    if gone < timedelta(hours=1):
        return f"{int(gone.total_seconds() // 60)} min ago"
    zone = ZoneInfo(timezone)
    days = (now.astimezone(zone).date() - moment_.astimezone(zone).date()).days
    if days == 0:
        return f"{int(gone.total_seconds() // 3600)} h ago"
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    return day(moment_.astimezone(zone).date())


def when(value: datetime | str | None, now: datetime, timezone: str = "UTC") -> Markup:
    """A relative time with the exact one on hover and on focus (a focusable <time>)."""
    if value is None or value == "":
        return Markup('<span class="muted">never</span>')
    moment_ = _parsed(value)
    exact = moment(moment_, timezone)
    return Markup('<time class="when" datetime="{}" title="{}" tabindex="0" data-exact="{}">{}'
                  '</time>').format(moment_.isoformat(), exact, exact,
                                    ago(moment_, now, timezone))


def short_run(value: str) -> str:
    """A runId as tables show it: its first characters (the copy button copies all of it)."""
    return value[:RUN_ID_SHOWN] + "…"


def copy_button(text: str, what: str) -> Markup:
    """A button that copies `text` (shown once the page's script runs)."""
    return Markup(' <button type="button" class="copy-button link-button" hidden '
                  'data-copy-text="{}" aria-label="Copy {} {}">Copy</button>').format(
                      text, what, text)


def prose(text: str, timezone: str = "UTC") -> Markup:
    """Text written for people with its raw UTC times and runIds made readable: times in the
    platform's zone (`Mon 17 Nov 2025, 09:30:05`), runIds shortened with the whole in a title."""
    out: list[str] = []
    cursor = 0
    pattern = re.compile(f"{_ISO_TIME.pattern}|{_UUID.pattern}")
    for found in pattern.finditer(text):
        out.append(str(escape(text[cursor:found.start()])))
        raw = found.group(0)
        if _UUID.fullmatch(raw):
            out.append(str(Markup('<code title="{}">{}</code>').format(raw, short_run(raw))))
        else:
            exact = moment(raw, timezone)
            out.append(str(Markup('<time datetime="{}">{}</time>').format(raw, exact)))
        cursor = found.end()
    out.append(str(escape(text[cursor:])))
    return Markup("".join(out))


def clock(value: datetime | str | None, timezone: str = "UTC") -> str:
    """`09:30:05` in the platform's time zone."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(ZoneInfo(timezone)).strftime("%H:%M:%S")


def _plural(value: float, one: str, many: str) -> str:
    return f"{decimal(value)} {one if value == 1 else many}"


def goal(name: str, value: float) -> str:
    """A course's daily goal in words: `25 XP`, `2 lessons`, `80 % accuracy`."""
    if name == "dailyXp":
        return xp(value)
    if name == "dailyActiveMinutes":
        return minutes(value)
    if name == "dailyLessons":
        return _plural(value, "lesson", "lessons")
    if name == "dailyAccuracy":
        return f"{percent(value)} accuracy"
    if name == "dailyMasteredUnits":
        return _plural(value, "mastered unit", "mastered units")
    return f"{decimal(value)} {name}"


def status(value: str | None) -> str:
    """A goal status in words (never colour alone): `met`, `close`, `missed`, `no goal`."""
    return {"met": "✓ met", "close": "≈ close", "missed": "✗ missed"}.get(value or "", "no goal")


def concern(found: dict[str, object]) -> str:
    """A learning concern in words: `Behind goal 3 school days running, since Wed 25 Nov 2026`."""
    kind, days, since = found["kind"], found.get("days"), found.get("since")
    plural = "" if days == 1 else "s"
    if kind == "behind_goal":
        return f"Behind goal {days} school day{plural} running, since {day(str(since))}"
    if kind == "inactive":
        return f"No activity for {days} school day{plural} (last active {day(str(since))})"
    if kind == "accuracy_falling":
        values = found.get("accuracies") or []
        assert isinstance(values, list)
        return ("Accuracy falling over the last 5 completions: "
                + " → ".join(percent(float(v)) for v in values))
    return str(kind).replace("_", " ")


FILTERS = {
    "count": count, "decimal": decimal, "minutes": minutes, "seconds": seconds,
    "xp": xp, "percent": percent, "day": day, "short_day": short_day, "status": status,
    "short_run": short_run,
}
GLOBALS = {"goal": goal, "copy_button": copy_button, "concern_text": concern}
