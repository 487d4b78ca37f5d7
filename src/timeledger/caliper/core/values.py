"""Checks for literal values (IRIs, event ids, date-times, durations, numbers), saying what fits."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from timeledger.caliper.bounds import MAX_IRI_CHARS, length_problem
from timeledger.caliper.times import TimeFormatError, parse_utc, parse_utc_any_year

# An absolute IRI: a scheme, a colon, then no whitespace and no character RFC 3987 excludes.
_IRI_PATTERN = r"\A[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+\Z"
_IRI = re.compile(_IRI_PATTERN)
# The same rule for ASCII text, spelled as the characters allowed (a third cheaper to match): the
# printable ASCII characters but for space and <>"{}|\^` (all ASCII whitespace is a control).
_ASCII_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[!#-;=?-\[\]_a-z~]+\Z")
URN_UUID_PATTERN = (
    r"\Aurn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)
"""Anchored at both ends, so `re.search` (msgspec's `Meta(pattern=...)`, which the screen uses for
an event's own id) and `re.match` agree."""
_URN_UUID = re.compile(URN_UUID_PATTERN)
# ISO 8601 duration (PnYnMnWnDTnHnMnS, at least one part, a fraction only on seconds).
_DURATION = re.compile(
    r"P(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?"
    r"(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:[.,]\d+)?S)?)?\Z"
)


def describe(value: object) -> str:
    """Name a JSON value's kind for messages: `got null`, `got the string 'x'`, `got an array`."""
    if value is None:
        return "got null"
    if isinstance(value, bool):
        return f"got {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"got the integer {value}"
    if isinstance(value, float):
        return f"got the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"got the string {shown!r}"
    if isinstance(value, list):
        return "got an array"
    if isinstance(value, dict):
        return "got an object"
    return f"got {type(value).__name__}"


MAX_REMEMBERED_VALUES = 4096
"""Each of is_iri, is_urn_uuid and is_email (timeback.py) remembers its verdict on at most this
many texts (least recently used go first), each of at most REMEMBERED_CHARS characters (an email
at most 320): the sensor, actors, activities, addresses and sessions repeat across envelopes, and
a lookup costs a fraction of a match."""
REMEMBERED_CHARS = 256
_URN_UUID_CHARS = len("urn:uuid:") + 36


def is_iri(value: object) -> bool:
    if not isinstance(value, str):
        return False
    if len(value) > REMEMBERED_CHARS or (len(value) == _URN_UUID_CHARS
                                         and value.startswith("urn:uuid:")):
        # A `urn:uuid:` IRI is mostly new with every event (a generated collection's id): asked
        # of the memo, it would miss, and push out a text that repeats.
        return _is_iri_text(value)
    return _remembered_iri(value)


def _is_iri_text(value: str) -> bool:
    if len(value) > MAX_IRI_CHARS:
        return False
    return (_ASCII_IRI if value.isascii() else _IRI).match(value) is not None


_remembered_iri = lru_cache(maxsize=MAX_REMEMBERED_VALUES)(_is_iri_text)


def is_urn_uuid(value: object) -> bool:
    return (isinstance(value, str) and len(value) == _URN_UUID_CHARS
            and _remembered_urn_uuid(value))


@lru_cache(maxsize=MAX_REMEMBERED_VALUES)
def _remembered_urn_uuid(value: str) -> bool:
    return _URN_UUID.match(value) is not None


def iri_problem(value: object) -> str | None:
    if is_iri(value):
        return None
    too_long = length_problem(value, MAX_IRI_CHARS) if isinstance(value, str) else None
    if too_long is not None:
        return f"Expected an IRI; {too_long}"
    return f"Expected an IRI, like https://example.edu/things/1; {describe(value)}"


def event_id_problem(value: object) -> str | None:
    if is_urn_uuid(value):
        return None
    return f"Expected an event id of the form urn:uuid:<uuid>; {describe(value)}"


def date_time_problem(value: object) -> str | None:
    """A date-time property the platform only stores: any year Python can hold."""
    return _time_problem(value, parse_utc_any_year)


def event_time_problem(value: object) -> str | None:
    """An `eventTime`, which the platform reads: within the years of bounds.py."""
    return _time_problem(value, parse_utc)


def _time_problem(value: object, parse: Callable[[object], object]) -> str | None:
    try:
        parse(value)
    except TimeFormatError as exc:
        if not isinstance(value, str):
            return f"Expected an ISO 8601 UTC date-time string; {describe(value)}"
        return str(exc)
    return None


def duration_problem(value: object) -> str | None:
    if isinstance(value, str) and _DURATION.match(value) is not None:
        return None
    return f"Expected an ISO 8601 duration, like PT50M30S; {describe(value)}"


def string_problem(value: object) -> str | None:
    if isinstance(value, str):
        return None
    return f"Expected a string; {describe(value)}"


def integer_problem(value: object, *, non_negative: bool = False) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        if non_negative and value < 0:
            return f"Expected a non-negative integer; {describe(value)}"
        return None
    kind = "a non-negative integer" if non_negative else "an integer"
    return f"Expected {kind}; {describe(value)}"


def decimal_problem(value: object) -> str | None:
    """Caliper decimals are JSON numbers written with a fractional part: 25.0, never 25."""
    if isinstance(value, float):
        return None
    return f"Expected a number with a fractional part (float), like 25.0; {describe(value)}"


def boolean_problem(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    return f"Expected true or false; {describe(value)}"


def one_of(terms: tuple[str, ...], limit: int = 24) -> str:
    """List allowed terms for a message, cut short when the list is long."""
    if len(terms) <= limit:
        return ", ".join(terms)
    return ", ".join(terms[:limit]) + f", ... ({len(terms)} in all)"
