"""A OneRoster collection read: limit/offset, sort/orderBy, fields and filter, checked and applied.

The parameters arrive as text (`collection_query` reads them and raises `InvalidParameter` naming
the one that is wrong); `read_page` applies them to a select over one collection, whose
`FilterFields` name what may be filtered and sorted on, and counts the whole match for
X-Total-Count. Paging is stable: ties in the sort field are broken by the collection's key.

Bounds: `limit` is 1..`MAX_LIMIT` (default `DEFAULT_LIMIT`, as OneRoster has it), `offset` is
0..`MAX_OFFSET`, `fields` names at most `MAX_FIELDS` fields.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from timeledger.server.queries.errors import InvalidParameter
from timeledger.server.queries.oneroster_filter import (
    DEFAULT_MAX_PREDICATES,
    FilterFields,
    compile_filter,
)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000
MAX_FIELDS = 100


@dataclass(frozen=True, slots=True)
class CollectionQuery:
    """What a client asked of a collection, checked for form (fields are checked on use)."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    sort: str | None = None
    order_by: Literal["asc", "desc"] = "asc"
    fields: tuple[str, ...] | None = None
    filter: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    rows: Sequence[sa.Row[Any]]
    total: int  # every row the filter matched, for X-Total-Count


def _bounded_int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not text.strip().isdigit():
        raise InvalidParameter(name, f"{text!r} is not a whole number")
    value = int(text.strip())
    if not low <= value <= high:
        raise InvalidParameter(name, f"{value} is outside {low}..{high}")
    return value


def collection_query(params: Mapping[str, str]) -> CollectionQuery:
    """The collection parameters among a request's query parameters."""
    order = (params.get("orderBy") or "asc").strip().lower()
    if order not in ("asc", "desc"):
        raise InvalidParameter("orderBy", f"{params['orderBy']!r} is neither asc nor desc")
    fields: tuple[str, ...] | None = None
    if params.get("fields") is not None:
        fields = tuple(name.strip() for name in params["fields"].split(",") if name.strip())
        if not fields:
            raise InvalidParameter("fields", "names no field")
        if len(fields) > MAX_FIELDS:
            raise InvalidParameter("fields", f"names more than {MAX_FIELDS} fields")
    sort = params.get("sort")
    return CollectionQuery(
        limit=_bounded_int(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=_bounded_int(params, "offset", 0, 0, MAX_OFFSET),
        sort=sort.strip() if sort is not None and sort.strip() else None,
        order_by="desc" if order == "desc" else "asc",
        fields=fields, filter=params.get("filter"))


def read_page(conn: sa.Connection, base: sa.Select[Any], fields: FilterFields,
              key: sa.ColumnElement[Any], query: CollectionQuery,
              max_predicates: int = DEFAULT_MAX_PREDICATES) -> Page:
    """One page of `base` under the query's filter and sort, and the count of all it matched."""
    if query.filter is not None:
        base = base.where(compile_filter(query.filter, fields, max_predicates))
    order: list[sa.ColumnElement[Any]] = []
    if query.sort is not None:
        spec = fields.get(query.sort)
        if spec is None:
            raise InvalidParameter("sort", f"unknown field {query.sort!r}; sortable: "
                                           f"{', '.join(sorted(fields))}")
        order.append(spec.column.desc() if query.order_by == "desc" else spec.column.asc())
    order.append(key.desc() if query.order_by == "desc" and query.sort is None else key.asc())
    total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    rows = conn.execute(base.order_by(*order).limit(query.limit).offset(query.offset)).all()
    return Page(rows, int(total))


def check_fields(fields: tuple[str, ...] | None, known: Collection[str]) -> None:
    """InvalidParameter naming the first of `fields` the collection's records do not have."""
    for name in fields or ():
        if name not in known:
            raise InvalidParameter("fields", f"unknown field {name!r}; known: "
                                             f"{', '.join(sorted(known))}")


def select_fields(record: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    """The record cut down to the fields asked for (checked beforehand by `check_fields`)."""
    if fields is None:
        return record
    return {name: record[name] for name in fields if name in record}
