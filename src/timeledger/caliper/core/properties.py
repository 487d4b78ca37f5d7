"""The kinds of value a Caliper property can hold, and checks for the non-entity kinds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from timeledger.caliper.core import values
from timeledger.caliper.errors import Problem


@dataclass(frozen=True, slots=True)
class Literal:
    """A JSON scalar of one XSD type: string, integer, nonNegativeInteger, decimal, boolean,
    dateTime or duration."""

    xsd: str


@dataclass(frozen=True, slots=True)
class Term:
    """A string drawn from a closed vocabulary (`@vocab` in the context): metric, role, status..."""

    name: str
    terms: tuple[str, ...]
    allowed: frozenset[str]


@dataclass(frozen=True, slots=True)
class Map:
    """A free-form JSON object whose keys Caliper does not define (`extensions`,
    `messageParameters`)."""


@dataclass(frozen=True, slots=True)
class Ref:
    """An entity, written as an object of one of `types` (or a subtype), or thinned to its IRI."""

    types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListOf:
    """A JSON array whose every element is `item`."""

    item: Literal | Term | Ref


Prop = Literal | Term | Map | Ref | ListOf

STRING = Literal("string")
INTEGER = Literal("integer")
NON_NEGATIVE_INTEGER = Literal("nonNegativeInteger")
DECIMAL = Literal("decimal")
BOOLEAN = Literal("boolean")
DATE_TIME = Literal("dateTime")
DURATION = Literal("duration")
MAP = Map()
STRINGS = ListOf(STRING)


def term(name: str, terms: tuple[str, ...]) -> Term:
    return Term(name, terms, frozenset(terms))


def _non_negative(value: object) -> str | None:
    return values.integer_problem(value, non_negative=True)


LITERAL_CHECKS: dict[str, Callable[[object], str | None]] = {
    "string": values.string_problem,
    "integer": values.integer_problem,
    "nonNegativeInteger": _non_negative,
    "decimal": values.decimal_problem,
    "boolean": values.boolean_problem,
    "dateTime": values.date_time_problem,
    "duration": values.duration_problem,
}


def check_literal(prop: Literal, value: object, path: str, out: list[Problem]) -> None:
    message = LITERAL_CHECKS[prop.xsd](value)
    if message is not None:
        out.append(Problem(path, message))


def check_term(prop: Term, value: object, path: str, out: list[Problem]) -> None:
    if isinstance(value, str) and value in prop.allowed:
        return
    if isinstance(value, str):
        message = f"Unknown {prop.name} {value!r}; expected one of: {values.one_of(prop.terms)}"
    else:
        message = f"Expected a {prop.name} term; {values.describe(value)}"
    out.append(Problem(path, message))


def check_map(value: object, path: str, out: list[Problem]) -> None:
    if not isinstance(value, dict):
        out.append(Problem(path, "Expected an object (a map of custom properties); "
                           + values.describe(value)))
