"""Local days in the platform's time zone, and splitting a window's time across midnight."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

# A window longer than this is not trusted to be split across days (items hold at most a day).
MAX_SPLIT_SPAN = timedelta(days=2)


@lru_cache(maxsize=64)
def zone_of(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_date(moment: datetime, zone: ZoneInfo) -> str:
    """The YYYY-MM-DD that `moment` falls on in `zone`."""
    return moment.astimezone(zone).date().isoformat()


class LocalDates(dict[datetime, str]):
    """`local_date` in one zone, each moment worked out once: a batch's windows share moments
    (a heartbeat's eventTime is its window's end, and often the next window's start). Ask with
    `dates[moment]`: a moment known already is a lookup in C, with no Python frame."""

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__()
        self.zone = zone

    def __missing__(self, moment: datetime) -> str:
        known = self[moment] = local_date(moment, self.zone)
        return known


def _next_midnight(moment: datetime, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    day = local.date() + timedelta(days=1)
    midnight = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    while midnight <= moment:  # a zone whose clocks skip midnight; move on a day
        day += timedelta(days=1)
        midnight = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    return midnight


def split_by_day(start: datetime, end: datetime, zone: ZoneInfo,
                 amounts: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """Share integer `amounts` across the local days [start, end) covers, in proportion to the time
    spent in each day. Shares are floored and the last day takes the remainder, so they add up
    exactly. An empty window gives everything to the day of `end`."""
    last_day = local_date(end, zone)
    if end <= start or local_date(start, zone) == last_day:
        return [(last_day, amounts)]
    pieces: list[tuple[str, int]] = []
    cursor = start
    while cursor < end:
        stop = min(end, _next_midnight(cursor, zone))
        pieces.append((local_date(cursor, zone), (stop - cursor) // timedelta(microseconds=1)))
        cursor = stop
    if len(pieces) == 1:
        return [(pieces[0][0], amounts)]
    total = sum(length for _, length in pieces)
    out: list[tuple[str, tuple[int, ...]]] = []
    given = [0] * len(amounts)
    for index, (day, length) in enumerate(pieces):
        if index == len(pieces) - 1:
            shares = tuple(amount - done for amount, done in zip(amounts, given, strict=True))
        else:
            shares = tuple(amount * length // total for amount in amounts)
            given = [done + share for done, share in zip(given, shares, strict=True)]
        out.append((day, shares))
    return out
