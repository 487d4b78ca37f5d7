"""The dashboard's one formatting module: durations, relative and exact times in the platform's
time zone, days with their weekday, shortened runIds with a copy button, prose without raw ISO
times. The pages' figures are checked against the API in test_pages.py; this holds the words."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from timeledger.server.dashboard import numbers

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # a Monday
RUN = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"


@pytest.mark.parametrize(("value", "text"), [
    (72, "1 h 12 min"), (45, "45 min"), (0.3, "< 1 min"), (0, "0 min"), (120, "2 h"),
    (8413.1, "140 h 13 min"), (None, "–")])
def test_minutes_read_as_hours_and_minutes(value: float | None, text: str) -> None:
    assert numbers.minutes(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (55.156, "55 s"), (125, "2 min 5 s"), (120, "2 min"), (3600, "1 h"), (None, "–")])
def test_window_lengths_read_as_seconds_then_minutes(value: float | None, text: str) -> None:
    assert numbers.seconds(value) == text


@pytest.mark.parametrize(("before", "text"), [
    (timedelta(seconds=30), "just now"), (timedelta(minutes=12), "12 min ago"),
    (timedelta(hours=3), "3 h ago"), (timedelta(hours=14), "yesterday"),
    (timedelta(days=4), "4 days ago"), (timedelta(days=10), "Fri 20 Nov 2026")])
def test_last_active_reads_as_time_ago(before: timedelta, text: str) -> None:
    assert numbers.ago(NOW - before, NOW) == text


def test_time_ago_counts_days_in_the_platforms_zone() -> None:
    # 03:00 UTC on Monday is 22:00 on Sunday in New York, where it is 05:00 on Monday now
    at, now = datetime(2026, 11, 30, 3, tzinfo=UTC), datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert numbers.ago(at, now, "UTC") == "7 h ago"
    assert numbers.ago(at, now, "America/New_York") == "yesterday"


def test_a_relative_time_carries_the_exact_one_on_hover_and_focus() -> None:
    shown = str(numbers.when("2026-11-30T09:48:00.000Z", NOW, "Europe/Berlin"))
    assert ">12 min ago</time>" in shown
    assert 'title="Mon 30 Nov 2026, 10:48:00"' in shown  # Berlin is an hour ahead in winter
    assert 'tabindex="0"' in shown
    assert str(numbers.when(None, NOW)) == '<span class="muted">never</span>'


def test_days_and_moments_carry_their_weekday() -> None:
    assert numbers.day("2026-11-30") == "Mon 30 Nov 2026"
    assert numbers.short_day(date(2026, 11, 29)) == "Sun 29 Nov"
    assert numbers.moment("2026-11-30T14:30:05Z", "Europe/Berlin") == "Mon 30 Nov 2026, 15:30:05"


def test_a_run_id_is_shortened_and_its_copy_button_copies_all_of_it() -> None:
    assert numbers.short_run(RUN) == "1b4e28ba…"
    button = str(numbers.copy_button(RUN, "run id"))
    assert f'data-copy-text="{RUN}"' in button
    assert f'aria-label="Copy run id {RUN}"' in button


def test_prose_has_no_raw_iso_time_or_whole_run_id() -> None:
    text = str(numbers.prose(f"Time reported on run {RUN} from 2026-11-30T09:15:00.000Z, "
                             "after <b>its</b> completion.", "Europe/Berlin"))
    read = re.sub(r"<[^>]+>", "", text)  # what a person reads
    assert read == ("Time reported on run 1b4e28ba… from Mon 30 Nov 2026, 10:15:00, after "
                    "&lt;b&gt;its&lt;/b&gt; completion.")
    assert f'<code title="{RUN}">1b4e28ba…</code>' in text


@pytest.mark.parametrize(("state", "words"), [
    ("met", "✓ met"), ("close", "≈ close"), ("missed", "✗ missed"), (None, "no goal")])
def test_a_goal_status_is_said_in_words_not_colour_alone(state: str | None, words: str) -> None:
    assert numbers.status(state) == words
