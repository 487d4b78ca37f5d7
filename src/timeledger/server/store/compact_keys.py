"""Keys stored in fewer bytes on SQLite, for the tables with a row per event: a window key as an
integer, a uuid as its 16 bytes, a Caliper term as its code. Readers and query parameters see the
same text either way.

Blobs are bound as `bytearray`: Python's sqlite3 binds one as it is, where a `bytes` first goes
through its adapter lookup (two failed attribute lookups, about 3k instructions a value, on the
request path's append several times an event). They are never changed after they are made.

SQLite keeps a column's values in whatever form they are bound, so these types convert on the way
in and out; PostgreSQL stores the text. A value not in the expected form is stored as text, so
every value round-trips. Comparisons inside SQL between such a column and another table's text
column would compare different forms: join through the Python values, or give both the type.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from timeledger.caliper.times import format_utc
from timeledger.server.store.term_codes import TERMS

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_KINDS = ("t:", "s:")  # a window keyed by its eventTime, by its startDate


class WindowKey(sa.TypeDecorator[str]):
    """run_windows.window_key, `s:<startDate>` or `t:<eventTime>` as caliper.times.format_utc
    writes them. On SQLite such a key is stored as an integer (milliseconds since 1970 times 2,
    plus 1 for `s:`): at most 8 bytes in the row and in ix_run_windows_end instead of 26, and
    one key, one integer, both ways. A key in any other form stays text there."""

    impl = sa.String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.String(40))

    def process_bind_param(self, value: str | int | None, dialect: sa.Dialect) -> Any:
        """A key given as SQLite's integer already (`window_key_number_at`: the projector's
        windows, on SQLite only) goes as it is."""
        if value is None or isinstance(value, int) or dialect.name != "sqlite":
            return value
        return window_key_number(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        if isinstance(value, int):
            return _KINDS[value & 1] + format_utc(_EPOCH + (value >> 1) * _MILLISECOND)
        return value  # type: ignore[no-any-return]


def window_key_number(key: str) -> int | str:
    """The integer SQLite stores for a window key, or the key itself when it is in no other form
    than text (WindowKey)."""
    kind, _, written = key.partition(":")
    if kind not in ("s", "t") or not written.endswith("Z"):
        return key
    try:
        moment = datetime.fromisoformat(written)
    except ValueError:
        return key
    if moment.tzinfo is None or format_utc(moment) != written:
        return key
    return ((moment - _EPOCH) // _MILLISECOND) * 2 + (kind == "s")


def window_key_number_at(start_keyed: bool, moment: datetime) -> int:
    """`window_key_number` of `s:` (`start_keyed`) or `t:` and format_utc(moment), worked out
    from the moment, without writing its text and parsing it back (the projector's plan, a
    window at a time). The same integer: format_utc drops the microseconds below the
    millisecond, which is the floor in time before 1970 as after."""
    return ((moment - _EPOCH) // _MILLISECOND) * 2 + start_keyed


class UuidText(sa.TypeDecorator[str]):
    """Text that is mostly `prefix` and a lower-case uuid (run ids: the bare uuid; event ids:
    `urn:uuid:<uuid>`). On SQLite such a value is stored as the uuid's 16 bytes (a blob: 17 bytes
    in a record where the text took 37 or 46); any other value stays text."""

    impl = sa.String
    cache_ok = True

    def __init__(self, length: int, prefix: str = "") -> None:
        super().__init__(length)
        self.prefix = prefix

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return uuid_bytes(value, self.prefix)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        if isinstance(value, bytes):
            return self.prefix + uuid_text(value)
        return value  # type: ignore[no-any-return]


def uuid_bytes(value: str, prefix: str = "") -> bytearray | str:
    """The 16 bytes SQLite stores for `prefix` + a lower-case uuid, or the value itself.

    Only a uuid in the form str(uuid.UUID(...)) gives (8-4-4-4-12 lower-case hex digits) is
    stored as bytes, so it reads back byte for byte. (Checked without a regex or a UUID: this
    runs for every appended event and every window the projector writes.)"""
    if len(value) != len(prefix) + 36 or not value.startswith(prefix):
        return value
    text = value[len(prefix):]
    if text[8] != "-" or text[13] != "-" or text[18] != "-" or text[23] != "-":
        return value
    digits = text.replace("-", "")
    if len(digits) != 32:
        return value
    try:
        raw = bytearray.fromhex(digits)  # a bytearray: bound as it is (see the module's text)
    except ValueError:
        return value
    return raw if raw.hex() == digits else value  # lower case, and no spaces fromhex skipped


def uuid_text(value: bytes) -> str:
    """A uuid's 16 bytes in the canonical text form (lower case, hyphenated), as str(uuid.UUID)
    writes it. (Cut from the hex: a third of the instructions of building a UUID, and every
    reader of an event or a window id pays it.)"""
    if len(value) != 16:
        raise ValueError(f"a uuid is 16 bytes, not {len(value)}")
    digits = value.hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _code_bytes(code: int) -> bytes:
    return code.to_bytes(1 if code < 256 else 2, "big")


#: Each known term's stored bytes, and back.
TERM_BYTES: dict[str, bytes] = {term: _code_bytes(code) for code, term in enumerate(TERMS)}
_BYTES_TERM: dict[bytes, str] = {stored: term for term, stored in TERM_BYTES.items()}


class _TermOrValue(dict[str | None, Any]):
    def __missing__(self, key: str | None) -> Any:
        return key


#: CaliperTerm's value on SQLite for any value: a known term's bytes, anything else as it is.
#: (`TERM_VALUES[value]` stays in C for a known term: the append calls it four times an event.)
TERM_VALUES: dict[str | None, Any] = _TermOrValue(
    {term: bytearray(stored) for term, stored in TERM_BYTES.items()})


class CaliperTerm(sa.TypeDecorator[str]):
    """A column of Caliper vocabulary (events.kind, type, action, profile). On SQLite a term of
    store/term_codes.py is stored as its code, one byte of a blob (2 bytes in a record where
    `TimeSpentEvent` took 15); any other value stays text. A blob, not an integer: the column
    keeps its text affinity, which would turn an integer into its text, and a blob never equals
    a text, so every value round-trips. The index on the column still serves equality."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> Any:
        if dialect.name != "sqlite":
            return value
        return TERM_VALUES[value]

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        if isinstance(value, bytes):
            return term_text(value)
        return value  # type: ignore[no-any-return]


def term_text(stored: bytes) -> str:
    """The term a code stands for (CaliperTerm)."""
    term = _BYTES_TERM.get(stored)
    if term is None:
        raise ValueError(f"no Caliper term has the code {stored.hex()} (store/term_codes.py)")
    return term
