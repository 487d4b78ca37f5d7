"""OneRoster's `filter` parameter compiled to a parameterised SQLAlchemy condition.

The grammar (OneRoster 1.2, section 3.4.2): `field op 'value'`, where op is one of `=`, `!=`,
`>`, `>=`, `<`, `<=`, `~` (contains, case-insensitive), optionally joined to further predicates
by `AND` or `OR`. A field may be dotted (`student.sourcedId`); each collection names the fields
it allows in a `FilterFields` map, so a field never reaches SQL as text: it selects a column, and
the value is always a bound parameter (`~` escapes LIKE's wildcards). A quote inside a value is
written twice (`'o''brien@x.org'`).

Bounds: a filter is at most `MAX_FILTER_CHARS` characters and at most `max_predicates`
predicates (two by default, as the specification has it; a caller may allow more, all joined by
the same operator). Anything else raises `FilterError` naming what was wrong and where.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

import sqlalchemy as sa

from timeledger.server.queries.errors import InvalidParameter

MAX_FILTER_CHARS = 2000
DEFAULT_MAX_PREDICATES = 2

ValueKind = Literal["text", "ci_text", "datetime", "date", "boolean", "number"]
OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "~")


class FilterError(InvalidParameter):
    """The `filter` parameter is malformed or names a field the collection does not allow."""

    def __init__(self, message: str, parameter: str = "filter") -> None:
        super().__init__(parameter, message)


@dataclass(frozen=True, slots=True)
class FilterField:
    """What a filterable field compares against, and how its value is read.

    text: compared as written. ci_text: compared lower-cased (the column holds lower-cased text,
    e.g. an e-mail). datetime: an ISO 8601 date-time (or a date, meaning its midnight UTC).
    date: YYYY-MM-DD kept as text. boolean: 'true' or 'false'. number: a decimal number.
    """

    column: sa.ColumnElement[Any]
    kind: ValueKind = "text"


FilterFields = Mapping[str, FilterField]

_PREDICATE = re.compile(
    r"\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"\s*(?P<op>>=|<=|!=|=|>|<|~)"
    r"\s*'(?P<value>(?:[^']|'')*)'\s*")
_JOIN = re.compile(r"(?P<join>AND|OR)(?=\s|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Predicate:
    field: str
    op: str
    value: str


def parse_filter(text: str, max_predicates: int = DEFAULT_MAX_PREDICATES
                 ) -> tuple[list[Predicate], str | None]:
    """The predicates of a filter and the operator joining them ("AND", "OR" or None)."""
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(f"longer than {MAX_FILTER_CHARS} characters")
    if not text.strip():
        raise FilterError("empty; expected field op 'value', e.g. status='active'")
    predicates: list[Predicate] = []
    join: str | None = None
    pos = 0
    while True:
        match = _PREDICATE.match(text, pos)
        if match is None:
            raise FilterError(f"at character {pos + 1}: expected field op 'value' "
                              f"(op one of {' '.join(OPERATORS)}, value in single quotes)")
        predicates.append(Predicate(match["field"], match["op"],
                                    match["value"].replace("''", "'")))
        pos = match.end()
        if pos == len(text):
            return predicates, join
        joined = _JOIN.match(text, pos)
        if joined is None:
            raise FilterError(f"at character {pos + 1}: expected AND or OR between predicates")
        word = joined["join"].upper()
        if join is not None and word != join:
            raise FilterError("AND and OR cannot be mixed in one filter")
        join = word
        if len(predicates) >= max_predicates:
            raise FilterError(f"at most {max_predicates} predicates may be joined")
        pos = joined.end()


def _datetime_value(field: str, value: str) -> datetime:
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FilterError(f"{field}: {value!r} is not an ISO 8601 date-time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _typed_value(field: str, kind: ValueKind, value: str) -> object:
    if kind == "datetime":
        return _datetime_value(field, value)
    if kind == "date":
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise FilterError(f"{field}: {value!r} is not a YYYY-MM-DD date") from None
    if kind == "boolean":
        if value.strip().lower() not in ("true", "false"):
            raise FilterError(f"{field}: {value!r} is not 'true' or 'false'")
        return value.strip().lower() == "true"
    if kind == "number":
        try:
            number = float(value)
        except ValueError:
            raise FilterError(f"{field}: {value!r} is not a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise FilterError(f"{field}: {value!r} is not a finite number")
        return number
    if kind == "ci_text":
        return value.lower()
    return value


def _condition(predicate: Predicate, fields: FilterFields) -> sa.ColumnElement[bool]:
    spec = fields.get(predicate.field)
    if spec is None:
        allowed = ", ".join(sorted(fields))
        raise FilterError(f"unknown field {predicate.field!r}; filterable: {allowed}")
    column = spec.column
    if predicate.op == "~":
        if spec.kind not in ("text", "ci_text"):
            raise FilterError(f"{predicate.field}: ~ (contains) applies to text fields only")
        return sa.func.lower(column).contains(predicate.value.lower(), autoescape=True)
    value = _typed_value(predicate.field, spec.kind, predicate.value)
    if spec.kind == "boolean" and predicate.op not in ("=", "!="):
        raise FilterError(f"{predicate.field}: only = and != apply to a boolean")
    bound = sa.bindparam(None, value, type_=column.type)
    comparisons: dict[str, sa.ColumnElement[bool]] = {
        "=": column == bound, "!=": column != bound, ">": column > bound,
        ">=": column >= bound, "<": column < bound, "<=": column <= bound,
    }
    condition = comparisons[predicate.op]
    # SQL's `a != b` is not true where a is NULL; a OneRoster client means "not that value"
    return sa.or_(condition, column.is_(None)) if predicate.op == "!=" else condition


def compile_filter(text: str, fields: FilterFields,
                   max_predicates: int = DEFAULT_MAX_PREDICATES) -> sa.ColumnElement[bool]:
    """The SQL condition for a OneRoster filter over `fields`; FilterError if it is malformed."""
    predicates, join = parse_filter(text, max_predicates)
    conditions = [_condition(p, fields) for p in predicates]
    if len(conditions) == 1:
        return conditions[0]
    return sa.or_(*conditions) if join == "OR" else sa.and_(*conditions)
