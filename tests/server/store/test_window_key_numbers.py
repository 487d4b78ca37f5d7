"""The projector writes a window's key to SQLite as its integer straight from the moment
(`window_key_number_at`): the same integer as the key's text parsed back (`window_key_number`)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from timeledger.caliper.times import format_utc
from timeledger.server.store.compact_keys import (
    WindowKey,
    window_key_number,
    window_key_number_at,
)

_SQLITE = sqlite.dialect()
_moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31),
                        timezones=st.just(UTC))


@given(_moments, st.booleans())
def test_a_key_from_its_moment_is_the_number_of_its_text(moment: datetime,
                                                           start_keyed: bool) -> None:
    text = ("s:" if start_keyed else "t:") + format_utc(moment)
    number = window_key_number_at(start_keyed, moment)
    assert number == window_key_number(text)
    # and it reads back as the key's text
    assert WindowKey().process_result_value(number, _SQLITE) == text

