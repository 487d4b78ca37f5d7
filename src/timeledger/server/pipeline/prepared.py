"""Each stored event read once into what every projection needs: integer amounts, bounds, days."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from timeledger.caliper.timeback import TimebackFacts
from timeledger.caliper.times import format_utc
from timeledger.server.pipeline.calendar import MAX_SPLIT_SPAN, LocalDates, split_by_day
from timeledger.server.pipeline.model import StoredTimebackEvent
from timeledger.server.store.compact_keys import window_key_number_at

OTHER_TIME_TYPES = ("waste", "unknown", "anti-pattern")


def to_ms(seconds: float) -> int:
    return round(seconds * 1000)


def to_milli(value: float) -> int:
    """XP is kept in thousandths so that sums are exact."""
    return round(value * 1000)


class DayShare(msgspec.Struct, frozen=True, gc=False):
    local_date: str
    active_ms: int
    inactive_ms: int


class Prepared(msgspec.Struct, frozen=True, gc=False):
    """One event with its amounts as integers and its window placed in time and on local days.
    (A msgspec struct: built per event, at a thirtieth of a frozen dataclass's cost.)"""

    seq: int
    facts: TimebackFacts
    local_date: str  # of eventTime
    active_ms: int
    inactive_ms: int
    other_ms: int
    start: datetime  # the window's start: reported, else eventTime - (active + inactive)
    end: datetime  # reported endDate, else eventTime
    bounds_reported: bool
    days: tuple[DayShare, ...]  # where the time goes; whole to eventTime's day without bounds
    xp_milli: int
    # the facts every projection asks for, as fields (read many times per event)
    event_id: str
    run_id: str | None
    is_time: bool

    @property
    def window_key(self) -> str:
        """Which window this is, for its run: its startDate, else its eventTime (behaviour.md 4)."""
        start_keyed, moment = _window_moment(self.facts)
        return ("s:" if start_keyed else "t:") + format_utc(moment)

    @property
    def window_key_number(self) -> int:
        """`window_key` as SQLite stores it (store/compact_keys.py), without writing its text."""
        return window_key_number_at(*_window_moment(self.facts))

    @property
    def completion_key(self) -> str | None:
        """Same run, attempt and eventTime: a resent completion. None without a run."""
        if self.facts.run_id is None:
            return None
        return (f"{self.facts.run_id}|{self.facts.attempt or 0}|"
                f"{self.facts.event_time.isoformat()}")


def _window_moment(facts: TimebackFacts) -> tuple[bool, datetime]:
    """What keys a window: its startDate (True), else its eventTime."""
    if facts.window_start is not None:
        return True, facts.window_start
    return False, facts.event_time


def prepare(event: StoredTimebackEvent, dates: LocalDates) -> Prepared:
    facts = event.facts
    day = dates[facts.event_time]
    if facts.kind != "time":
        return Prepared(event.seq, facts, day, 0, 0, 0, facts.event_time, facts.event_time, False,
                        (), to_milli(facts.xp_earned or 0.0), facts.event_id, facts.run_id, False)
    seconds = facts.seconds
    active = round(seconds.get("active", 0) * 1000)  # to_ms, inline: twice an event
    inactive = round(seconds.get("inactive", 0) * 1000)
    other = 0
    if len(seconds) > ("active" in seconds) + ("inactive" in seconds):
        other = sum(to_ms(value) for kind, value in seconds.items() if kind in OTHER_TIME_TYPES)
    end = facts.window_end or facts.event_time
    start = facts.window_start
    if start is not None and start <= end and end - start <= MAX_SPLIT_SPAN:
        last_day = day if end == facts.event_time else dates[end]
        if end <= start or dates[start] == last_day:  # split_by_day's one-day answer, sooner
            shares: tuple[DayShare, ...] = (DayShare(last_day, active, inactive),)
        else:
            shares = tuple(DayShare(d, a, i) for d, (a, i) in
                           split_by_day(start, end, dates.zone, (active, inactive)))
        return Prepared(event.seq, facts, day, active, inactive, other, start, end, True, shares,
                        0, facts.event_id, facts.run_id, True)
    start = end - timedelta(milliseconds=active + inactive)
    return Prepared(event.seq, facts, day, active, inactive, other, start, end, False,
                    (DayShare(day, active, inactive),), 0, facts.event_id, facts.run_id, True)
