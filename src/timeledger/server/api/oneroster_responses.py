"""OneRoster's reply shapes: the collection envelope with its paging headers, and its errors.

A collection answers `{"<name>": [...]}` with `X-Total-Count` and a `Link` header (first, prev,
next, last, as RFC 8288 has them); an error answers the IMS status shape with OneRoster's
`imsx_CodeMinor` naming the kind of problem (invalid_filter_field, unknown_object, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from fastapi import FastAPI, Request

from timeledger.server.api.auth import platform_of
from timeledger.server.api.errors import ims_error_body
from timeledger.server.json_response import JsonResponse
from timeledger.server.queries.errors import InvalidParameter, NotFound
from timeledger.server.queries.oneroster_collection import CollectionQuery, collection_query

T = TypeVar("T")

# The OneRoster codeMinor for a parameter that is wrong, by the parameter's name.
_CODE_MINOR_BY_PARAMETER = {
    "filter": "invalid_filter_field",
    "fields": "invalid_selection_field",
    "sort": "invalid_sort_field",
    "orderBy": "invalid_sort_field",
}


class OneRosterError(Exception):
    """A OneRoster reply other than success: status, description and codeMinor."""

    def __init__(self, status: int, description: str, code_minor: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.code_minor = code_minor

    def response(self) -> JsonResponse:
        body = ims_error_body(self.description)
        body["imsx_CodeMinor"] = {"imsx_codeMinorField": [{
            "imsx_codeMinorFieldName": "TargetEndSystem",
            "imsx_codeMinorFieldValue": self.code_minor}]}
        return JsonResponse(body, status_code=self.status)


def read_oneroster(request: Request, query: Callable[[sa.Connection], T]) -> T:
    """Run one query on a connection of its own; its errors become OneRosterError."""
    platform = platform_of(request)
    try:
        with platform.engine.connect() as conn:
            return query(conn)
    except InvalidParameter as exc:
        raise OneRosterError(400, f"Invalid {exc.name}: {exc.message}",
                             _CODE_MINOR_BY_PARAMETER.get(exc.name, "invalid_data")) from None
    except NotFound as exc:
        raise OneRosterError(404, str(exc), "unknown_object") from None


def request_collection_query(request: Request) -> CollectionQuery:
    """The request's limit, offset, sort, orderBy, fields and filter, checked for form."""
    try:
        return collection_query(dict(request.query_params))
    except InvalidParameter as exc:
        raise OneRosterError(400, f"Invalid {exc.name}: {exc.message}",
                             _CODE_MINOR_BY_PARAMETER.get(exc.name, "invalid_data")) from None


def _link(request: Request, limit: int, offset: int, rel: str) -> str:
    url = request.url.include_query_params(limit=limit, offset=offset)
    return f'<{url}>; rel="{rel}"'


def collection_response(request: Request, name: str, records: list[dict[str, Any]],
                        total: int, query: CollectionQuery) -> JsonResponse:
    """The envelope `{name: records}` with X-Total-Count and Link headers for its pages."""
    limit, offset = query.limit, query.offset
    last = max(0, (total - 1) // limit * limit)
    links = [_link(request, limit, 0, "first")]
    if offset > 0:
        links.append(_link(request, limit, max(0, offset - limit), "prev"))
    if offset + limit < total:
        links.append(_link(request, limit, offset + limit, "next"))
    links.append(_link(request, limit, last, "last"))
    return JsonResponse({name: records},
                        headers={"X-Total-Count": str(total), "Link": ", ".join(links)})


def install_oneroster_errors(app: FastAPI) -> None:
    """Reply to a OneRosterError raised by any route in its own shape (safe to call twice)."""

    @app.exception_handler(OneRosterError)
    async def _oneroster_error(_request: Request, exc: OneRosterError) -> JsonResponse:
        return exc.response()
