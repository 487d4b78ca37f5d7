"""Column arrays for PostgreSQL's `unnest` (store/driver_rows.py) made in PostgreSQL's binary
array format a column at a time, in a few passes in C, where psycopg's list dumper runs a loop of
Python's own per element (after scanning the list's types to pick the element's). The log's append
binds 15 such arrays a group and the projector one per column of each upsert: psycopg's way cost
about 6 us an appended event.

`binary_array` makes the bytes when the values are all of the column's Python type (or None);
otherwise it gives the list back unchanged, and psycopg dumps it as before. The arrays are sent by
the dumper store/binary_array_dumper.py adds to each PostgreSQL connection. psycopg is an extra
(`timeledger[postgres]`), so this module imports it only when PostgreSQL first binds a time."""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple

_HEAD = struct.Struct("!iiiii")  # dimensions (1), has nulls, element oid, length, lower bound (1)
_EMPTY = struct.Struct("!iii")  # no dimensions: an empty array
_LENGTH = struct.Struct("!i")
_NULL = _LENGTH.pack(-1)
_NONE_TYPE = type(None)


class ArrayKind(NamedTuple):
    """A PostgreSQL array type: its element's oid and its own."""

    element_oid: int
    array_oid: int


TEXT, INT8, FLOAT8, BOOL = ArrayKind(25, 1009), ArrayKind(20, 1016), ArrayKind(701, 1022), \
    ArrayKind(16, 1000)
TIMESTAMPTZ = ArrayKind(1184, 1185)


class BinaryArray:
    """One column's values as the bytes of a PostgreSQL array of `kind`."""

    __slots__ = ("kind", "payload")

    def __init__(self, kind: ArrayKind, payload: bytes) -> None:
        self.kind = kind
        self.payload = payload


def _array(kind: ArrayKind, count: int, parts: list[bytes], has_null: bool) -> BinaryArray:
    """The array of `count` elements, given as `parts` that join into each element's length
    and bytes (or `_NULL`) in turn."""
    if not count:
        return BinaryArray(kind, _EMPTY.pack(0, 0, kind.element_oid))
    return BinaryArray(kind, b"".join((_HEAD.pack(1, has_null, kind.element_oid, count, 1),
                                       *parts)))


def _text(values: list[Any]) -> BinaryArray:
    try:
        encoded = list(map(str.encode, values))  # a TypeError for None or another type
    except TypeError:
        if not set(map(type, values)) <= {str, _NONE_TYPE}:
            raise
        return _array(TEXT, len(values), [
            _NULL if value is None else _with_length(value.encode()) for value in values], True)
    if len(set(map(len, encoded))) == 1:  # ids, terms, a group's job: one length, one prefix
        prefix = _LENGTH.pack(len(encoded[0]))
        return _array(TEXT, len(encoded), [prefix, prefix.join(encoded)], False)
    parts: list[bytes] = [b""] * (2 * len(encoded))  # each length, then its bytes
    parts[0::2] = map(_LENGTH.pack, map(len, encoded))
    parts[1::2] = encoded
    return _array(TEXT, len(encoded), parts, False)


def _with_length(data: bytes) -> bytes:
    return _LENGTH.pack(len(data)) + data


def _fixed(kind: ArrayKind, size: int, dump: Callable[[Any], bytes],
           types: frozenset[type]) -> Callable[[list[Any]], BinaryArray]:
    """Arrays of values of `types` (or None), each dumped by `dump` into `size` bytes."""
    prefix = _LENGTH.pack(size)

    def make(values: list[Any]) -> BinaryArray:
        present = set(map(type, values))
        if not present <= types | {_NONE_TYPE}:
            raise TypeError(f"not all of {sorted(t.__name__ for t in types)}")
        if _NONE_TYPE not in present:
            return _array(kind, len(values), [prefix, prefix.join(map(dump, values))], False)
        return _array(kind, len(values), [_NULL if value is None else prefix + dump(value)
                                          for value in values], True)
    return make


def _aware(dump: Callable[[datetime], bytes]) -> Callable[[list[Any]], BinaryArray]:
    """`_fixed` for times, each aware (psycopg sends a naive one as `timestamp`)."""
    make = _fixed(TIMESTAMPTZ, 8, dump, frozenset({datetime}))

    def aware(values: list[Any]) -> BinaryArray:
        if None in set(map(_TZINFO, filter(None, values))):
            raise TypeError("a naive datetime")
        return make(values)
    return aware


@functools.cache
def _timestamptz_array() -> Callable[[list[Any]], BinaryArray]:
    """Times packed by psycopg's own dumper of a datetime into timestamptz's 8 bytes (in C with
    psycopg[binary])."""
    from psycopg import adapters  # an extra: only PostgreSQL gets here (the module docstring)
    from psycopg.adapt import PyFormat

    return _aware(adapters.get_dumper(datetime, PyFormat.BINARY)(datetime).dump)  # type: ignore[arg-type]


def _times(values: list[Any]) -> BinaryArray:
    return _timestamptz_array()(values)


_TZINFO = attrgetter("tzinfo")
_INT8 = struct.Struct("!q")
_INTEGERS = _fixed(INT8, 8, _INT8.pack, frozenset({int}))
#: For each element type `unnest_rows` casts to, how this module packs the column's values.
_MAKERS: dict[str, Callable[[list[Any]], BinaryArray]] = {
    "text": _text,
    "BIGINT": _INTEGERS,
    "INTEGER": _INTEGERS,
    "SMALLINT": _INTEGERS,
    "FLOAT": _fixed(FLOAT8, 8, struct.Struct("!d").pack, frozenset({float, int})),
    "BOOLEAN": _fixed(BOOL, 1, struct.Struct("!?").pack, frozenset({bool})),
    "TIMESTAMP WITH TIME ZONE": _times,
}


def binary_array(element: str, values: list[Any]) -> BinaryArray | list[Any]:
    """`values` as a binary array of `element` (the SQL type `unnest_rows` casts them to), or
    the list itself where this module does not pack them (another type, a naive datetime, an
    integer past 64 bits): psycopg's dumper then does, as for any list."""
    make = _MAKERS.get(element)
    if make is None:
        return values
    try:
        return make(values)
    except (TypeError, struct.error):
        return values
