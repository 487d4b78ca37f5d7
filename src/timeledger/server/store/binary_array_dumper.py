"""The psycopg dumper that sends store/binary_arrays.py's arrays as they are: a module of its own
because psycopg is an extra (`timeledger[postgres]`), imported only for a PostgreSQL store."""

from __future__ import annotations

from typing import Any

from psycopg import pq
from psycopg.abc import AdaptContext, Buffer, DumperKey
from psycopg.adapt import Dumper, PyFormat

from timeledger.server.store.binary_arrays import BinaryArray


class _BinaryArrayDumper(Dumper):
    """Sends a `BinaryArray`'s bytes as they are, typed by its kind (psycopg asks `upgrade`
    for a dumper of each kind a statement binds)."""

    format = pq.Format.BINARY

    def get_key(self, obj: Any, format: PyFormat) -> DumperKey:
        return (BinaryArray, obj.kind.array_oid)

    def upgrade(self, obj: Any, format: PyFormat) -> Dumper:
        typed = _BinaryArrayDumper(BinaryArray)
        typed.oid = obj.kind.array_oid
        return typed

    def dump(self, obj: Any) -> Buffer:
        return obj.payload  # type: ignore[no-any-return]


def register_binary_arrays(context: AdaptContext) -> None:
    """Teach a psycopg connection (or adapters map) to send `BinaryArray`s as they are."""
    context.adapters.register_dumper(BinaryArray, _BinaryArrayDumper)
