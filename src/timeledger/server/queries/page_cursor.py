"""Page cursors: where the last page of a list stopped, as an opaque URL-safe string.

A cursor is the key of the last row listed, led by the name of its list so that one list's
cursor is never taken for another's. Anything that is not a cursor the list handed out is an
error naming the parameter it came in."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime

from timeledger.server.queries.errors import InvalidParameter
from timeledger.server.store.storable_text import holds_nul

MAX_CURSOR_CHARS = 4096  # longer than any cursor a list hands out
KeyPart = str | int


def pack(parts: Sequence[KeyPart]) -> str:
    text = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def unpack(name: str, text: str) -> list[object]:
    """The parts of a packed cursor; InvalidParameter naming `name` if `text` is not one."""
    if len(text) > MAX_CURSOR_CHARS:
        raise not_a_cursor(name)
    try:
        parts = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        raise not_a_cursor(name) from None
    if not isinstance(parts, list):
        raise not_a_cursor(name)
    if any(isinstance(part, str) and holds_nul(part) for part in parts):
        raise not_a_cursor(name)  # no list hands one out, and PostgreSQL text cannot hold NUL
    return parts


def not_a_cursor(name: str) -> InvalidParameter:
    return InvalidParameter(name, "Expected the `next` of a previous page")


def encode_key(list_name: str, key: Sequence[KeyPart]) -> str:
    """The cursor after the row with this key, in the list `list_name`."""
    return pack([list_name, *key])


def decode_key(name: str, text: str, list_name: str,
               shape: Sequence[type[str] | type[int]]) -> tuple[KeyPart, ...]:
    """The key a cursor of `list_name` holds, its parts of the types of `shape`."""
    parts = unpack(name, text)
    if len(parts) != len(shape) + 1 or parts[0] != list_name:
        raise not_a_cursor(name)
    key: list[KeyPart] = []
    for part, kind in zip(parts[1:], shape, strict=True):
        if type(part) is not kind:  # bool is an int subclass: exact types only
            raise not_a_cursor(name)
        assert isinstance(part, str | int)
        key.append(part)
    return tuple(key)


def cursor_time(name: str, part: KeyPart) -> datetime:
    """A time a cursor holds (written by `datetime.isoformat`, with its zone)."""
    try:
        moment = datetime.fromisoformat(str(part))
    except ValueError:
        raise not_a_cursor(name) from None
    if moment.tzinfo is None:
        raise not_a_cursor(name)
    return moment
