"""format_utc writes one text for each instant, whether it computes the text or finds it remembered
(from an earlier call, or from parsing a time already written that way)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timeledger.caliper import times
from timeledger.caliper.bounds import MAX_YEAR, MIN_YEAR
from timeledger.caliper.times import format_utc, parse_utc

pytestmark = pytest.mark.unit


def written_out(moment: datetime) -> str:
    """The format, spelled out independently of times.py."""
    m = moment.astimezone(UTC)
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
            f"{m.microsecond // 1000:03d}Z")


moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                       timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                                  timezone(timedelta(hours=-8))]))


@given(moments)
def test_format_utc_writes_the_instant_in_utc_milliseconds_each_time(moment: datetime) -> None:
    assert format_utc(moment) == written_out(moment)
    assert format_utc(moment) == written_out(moment)  # remembered by now
    assert format_utc(moment.astimezone(UTC)) == written_out(moment)


@given(moments)
def test_a_parsed_time_formats_as_format_utc_writes_it(moment: datetime) -> None:
    times._texts.clear()
    canonical = written_out(moment)
    for text in (canonical, canonical[:-1] + "+00:00", canonical[:19] + "Z",
                 canonical[:23] + "4567Z", canonical + "\n"):
        try:
            parsed = parse_utc(text)
        except times.TimeFormatError:
            continue  # outside the platform's years: nothing to format
        times._texts.clear()
        assert format_utc(parse_utc(text)) == written_out(parsed)


def test_a_time_parsed_from_another_spelling_is_not_remembered_as_its_text() -> None:
    """Only a text exactly as format_utc writes it stands for the instant's text: not one with a
    final newline (the pattern's `$` lets it through), nor digits of another script."""
    times._texts.clear()
    for text in ("2025-01-15T10:05:00.000Z\n", "2025-01-15T10:05:00.000+00:00",
                 "2025-01-15T10:05:00.0001Z"):
        times._parse_utc_text.cache_clear()
        times._texts.clear()
        assert format_utc(parse_utc(text)) == "2025-01-15T10:05:00.000Z"
    times._parse_utc_text.cache_clear()
    try:
        parsed = parse_utc("٢٠٢٥-01-15T10:05:00.000Z")
    except times.TimeFormatError:
        return  # refused outright: nothing to format
    assert format_utc(parsed) == "2025-01-15T10:05:00.000Z"


def test_the_remembered_texts_are_bounded() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for n in range(times.MAX_REMEMBERED_TEXTS * 2 + 5):
        moment = start + timedelta(milliseconds=n)
        assert format_utc(moment) == written_out(moment)
        assert len(times._texts) <= times.MAX_REMEMBERED_TEXTS


def test_format_utc_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_utc(datetime(2025, 1, 1))


def read_out(text: str) -> datetime:
    """A canonical text's moment, spelled out independently of times.py."""
    return datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                    int(text[14:16]), int(text[17:19]), int(text[20:23]) * 1000, tzinfo=UTC)


@given(moments.map(written_out)
       | st.from_regex(r"\A(19[0-9]{2}|2[0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                       r"\.[0-9]{3}Z\Z"))
def test_a_text_in_the_canonical_form_is_read_as_its_parts_say(text: str) -> None:
    """Any digits in the form format_utc writes: the moment its parts name, in UTC (the very
    `UTC` object), or refused saying which part is out of range (as a datetime of those parts)."""
    times._parse_utc_text.cache_clear()
    try:
        expected: datetime | str = read_out(text)
    except ValueError as exc:
        expected = str(exc)
    try:
        parsed: datetime | str = parse_utc(text)
    except times.TimeFormatError as exc:
        parsed = str(exc).rpartition(": ")[2]
    if isinstance(expected, datetime) and not MIN_YEAR <= expected.year <= MAX_YEAR:
        assert isinstance(parsed, str) and "year" in parsed.lower()
        return
    assert parsed == expected
    if isinstance(parsed, datetime):
        assert parsed.tzinfo is UTC
