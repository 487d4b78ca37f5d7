"""Column arrays made in PostgreSQL's binary form by store/binary_arrays.py read back, through
`unnest`, as the same values psycopg's own list dumper sends; values it does not pack are left
for psycopg, and still read back."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.postgres import PostgresCluster
from timeledger.server.store.binary_array_dumper import register_binary_arrays
from timeledger.server.store.binary_arrays import BinaryArray, binary_array

_NO_NUL = st.characters(codec="utf-8", blacklist_characters="\x00")
_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                          timezone(-timedelta(hours=11)), ZoneInfo("America/New_York")])
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Each element type `unnest_rows` casts to, and values of the Python type it packs.
_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "text": st.one_of(st.text(_NO_NUL, max_size=40), st.sampled_from(["", "NULL", '"{a,b}"'])),
    "BIGINT": st.integers(-(2**63), 2**63 - 1),
    "INTEGER": st.integers(-(2**31), 2**31 - 1),
    "SMALLINT": st.integers(-(2**15), 2**15 - 1),
    "FLOAT": st.one_of(st.floats(allow_nan=True), st.integers(-(2**53), 2**53)),
    "BOOLEAN": st.booleans(),
    "TIMESTAMP WITH TIME ZONE": st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30),
                                             timezones=_ZONES),
}


def _read_back(conn: psycopg.Connection[Any], element: str, array: Any) -> list[Any]:
    return [value for value, in conn.execute(
        f"SELECT value FROM unnest(%b::{element}[]) WITH ORDINALITY AS given(value, n) "
        "ORDER BY n", [array])]


def _same(left: list[Any], right: list[Any]) -> bool:
    return len(left) == len(right) and all(
        (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
        or a == b for a, b in zip(left, right, strict=True))


@pytest.fixture
def conn(postgres_cluster: PostgresCluster) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(postgres_cluster.new_database("arrays", empty=True),
                         autocommit=True) as made:
        register_binary_arrays(made)
        yield made


@pytest.mark.parametrize("element", list(_VALUES))
def test_packed_arrays_read_back_as_psycopg_sends_the_list(conn: psycopg.Connection[Any],
                                                           element: str) -> None:
    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.one_of(st.none(), _VALUES[element]), max_size=12)
           | st.lists(_VALUES[element], max_size=12))
    def check(values: list[Any]) -> None:
        packed = binary_array(element, list(values))
        assert isinstance(packed, BinaryArray)
        read = _read_back(conn, element, packed)
        # psycopg's list dumper takes no floats and ints together: as floats there
        sent = [float(value) if element == "FLOAT" and value is not None else value
                for value in values]
        assert _same(read, _read_back(conn, element, sent))
        if element == "TIMESTAMP WITH TIME ZONE":  # the same instants, to the microsecond
            # (subtracted, not compared: a time of a repeated hour never equals another zone's)
            assert [None if at is None else at - _EPOCH for at in read] == [
                None if at is None else at - _EPOCH for at in values]

    check()


def test_a_text_column_of_one_length_and_of_many_reads_back(
        conn: psycopg.Connection[Any]) -> None:
    ids = [f"urn:uuid:{n:036d}" for n in range(50)]  # one length: one prefix, joined
    names = ["é", "ab", "", "日本語のテキスト"]  # lengths in bytes, not characters
    for values in (ids, names, [*names, None], [None], []):
        packed = binary_array("text", values)
        assert isinstance(packed, BinaryArray)
        assert _read_back(conn, "text", packed) == values


@pytest.mark.parametrize(("element", "values"), [
    ("TIMESTAMP WITH TIME ZONE", [datetime(2025, 1, 1, 9, 30)]),  # naive: the session's zone
    ("BIGINT", [True, 2]),  # a bool is not an int here
    ("BIGINT", [2**64]),  # past 64 bits: psycopg sends it as numeric
    ("text", ["a", 1]),
    ("BYTEA", [b"\x00\x01", None]),  # a type this module does not pack
])
def test_values_it_does_not_pack_are_left_to_psycopg(element: str, values: list[Any]) -> None:
    assert binary_array(element, values) is values


def test_a_naive_time_goes_as_psycopg_sends_it(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SET TIME ZONE 'Asia/Tokyo'")
    naive = [datetime(2025, 1, 1, 9, 30)]
    left = binary_array("TIMESTAMP WITH TIME ZONE", naive)
    assert left is naive
    assert _read_back(conn, "TIMESTAMP WITH TIME ZONE", left) == [
        datetime(2025, 1, 1, 0, 30, tzinfo=UTC)]

