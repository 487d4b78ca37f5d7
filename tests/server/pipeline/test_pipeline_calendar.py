"""Local days and splitting a window across midnight, worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from timeledger.server.pipeline.calendar import local_date, split_by_day, zone_of

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast

NEW_YORK = zone_of("America/New_York")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_local_date_is_taken_in_the_zone() -> None:
    assert local_date(utc("2025-01-14T02:00:00"), NEW_YORK) == "2025-01-13"  # 21:00 EST
    assert local_date(utc("2025-07-14T04:00:00"), NEW_YORK) == "2025-07-14"  # 00:00 EDT
    assert local_date(utc("2025-07-14T03:59:59"), NEW_YORK) == "2025-07-13"


def test_a_window_inside_one_day_is_not_split() -> None:
    assert split_by_day(utc("2025-01-13T15:00:00"), utc("2025-01-13T15:00:15"), NEW_YORK,
                        (12000, 3000)) == [("2025-01-13", (12000, 3000))]


def test_shares_follow_the_time_spent_on_each_day_and_add_up() -> None:
    # 04:59:00Z-05:02:00Z is 23:59-00:02 in New York: 1 minute on the 13th, 2 on the 14th.
    # 1000 ms split 1:2 gives 333 (floored) and the remainder 667.
    assert split_by_day(utc("2025-01-14T04:59:00"), utc("2025-01-14T05:02:00"), NEW_YORK,
                        (1000, 3)) == [("2025-01-13", (333, 1)), ("2025-01-14", (667, 2))]


def test_a_window_ending_at_midnight_stays_on_its_day() -> None:
    assert split_by_day(utc("2025-01-14T04:50:00"), utc("2025-01-14T05:00:00"), NEW_YORK,
                        (600000,)) == [("2025-01-13", (600000,))]


def test_the_day_clocks_spring_forward_has_23_hours() -> None:
    # 2025-03-09 in New York runs from 05:00Z to 04:00Z next day (23 h). A window from 03:00Z
    # on the 9th (22:00 on the 8th) to 06:00Z on the 10th (02:00 on the 10th) spends 2 h on the
    # 8th, 23 h on the 9th and 2 h on the 10th: 27 h in all.
    shares = split_by_day(utc("2025-03-09T03:00:00"), utc("2025-03-10T06:00:00"), NEW_YORK,
                          (27 * 3600,))
    assert shares == [("2025-03-08", (2 * 3600,)), ("2025-03-09", (23 * 3600,)),
                      ("2025-03-10", (2 * 3600,))]
