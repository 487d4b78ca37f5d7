"""OneRoster 1.2 rostering, read side (`/ims/oneroster/rostering/v1p2`, scope roster:read).

users, students, teachers, classes (and a class's students and teachers), courses, enrollments,
orgs, schools and academicSessions: each a collection (limit/offset, sort/orderBy, fields,
filter; X-Total-Count and Link headers) and each object by sourcedId. Errors answer in
OneRoster's shape (api/oneroster_responses.py); a filter never reaches SQL as text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi import Query as Param

from timeledger.server.api.auth import require_scope
from timeledger.server.api.oneroster_responses import (
    collection_response,
    install_oneroster_errors,
    read_oneroster,
    request_collection_query,
)
from timeledger.server.json_response import JsonResponse
from timeledger.server.queries import roster
from timeledger.server.queries.oneroster_collection import CollectionQuery
from timeledger.server.store.credentials import AccessToken
from timeledger.server.store.roster_tables import roster_orgs

router = APIRouter(prefix=roster.ROSTERING_PATH, tags=["oneroster rostering"])
RosterReader = Annotated[AccessToken, Depends(require_scope("roster:read"))]


def _collection_query(
    request: Request,
    limit: Annotated[str | None, Param(
        description="Records per page: 1 to 1000 (default 100)")] = None,
    offset: Annotated[str | None, Param(description="Records to skip: 0 to 10,000,000")] = None,
    sort: Annotated[str | None, Param(description="A filterable field to order by")] = None,
    order_by: Annotated[str | None, Param(
        alias="orderBy", description="asc (default) or desc")] = None,
    fields: Annotated[str | None, Param(description="Comma-separated fields to return")] = None,
    filter_text: Annotated[str | None, Param(
        alias="filter", description="field op 'value' [AND|OR field op 'value'] "
                                    "(docs/oneroster.md)")] = None,
) -> CollectionQuery:
    """The collection parameters, declared for the API document; read (and checked, with
    OneRoster's errors) by request_collection_query."""
    return request_collection_query(request)


Query = Annotated[CollectionQuery, Depends(_collection_query)]
Condition = Callable[[sa.Connection], sa.ColumnElement[bool] | None]
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A malformed filter, sort, fields, limit or offset (OneRoster error)"},
    401: {"description": "No valid bearer token"},
    403: {"description": "The token lacks roster:read"},
}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _no_condition(_conn: sa.Connection) -> None:
    return None


def _collection(request: Request, query: CollectionQuery, collection: roster.RosterCollection,
                condition: Condition = _no_condition, name: str | None = None) -> JsonResponse:
    page = read_oneroster(request, lambda conn: roster.list_records(
        conn, collection, query, _base(request), condition(conn)))
    return collection_response(request, name or collection.name, page.records, page.total, query)


def _one(request: Request, query: CollectionQuery, collection: roster.RosterCollection,
         sourced_id: str, where: sa.ColumnElement[bool] | None = None) -> dict[str, Any]:
    record = read_oneroster(request, lambda conn: roster.get_record(
        conn, collection, sourced_id, _base(request), query.fields, where))
    return {collection.singular: record}


def _collection_routes(path: str, collection: roster.RosterCollection, summary: str,
                       where: sa.ColumnElement[bool] | None = None) -> None:
    """GET {path} and GET {path}/{sourcedId} over one collection (optionally narrowed)."""

    def condition(_conn: sa.Connection) -> sa.ColumnElement[bool] | None:
        return where

    @router.get(f"/{path}", summary=f"{summary}, a page at a time", responses=_ERRORS,
                operation_id=f"oneroster_list_{path}")
    def list_them(request: Request, _token: RosterReader, query: Query) -> JsonResponse:
        return _collection(request, query, collection, condition)

    @router.get(f"/{path}/{{sourced_id}}", summary=f"One of the {path} by sourcedId",
                responses={**_ERRORS, 404: {"description": "No such record (OneRoster error)"}},
                operation_id=f"oneroster_get_{path}")
    def get_one(sourced_id: str, request: Request, _token: RosterReader,
                query: Query) -> dict[str, Any]:
        return _one(request, query, collection, sourced_id, where)


_collection_routes("users", roster.USERS, "Users (students, teachers, ...)")
_collection_routes("students", roster.USERS, "Users whose role is student",
                   roster.users_with_role("student"))
_collection_routes("teachers", roster.USERS, "Users whose role is teacher",
                   roster.users_with_role("teacher"))
_collection_routes("orgs", roster.ORGS, "Orgs (district, schools, ...)")
_collection_routes("schools", roster.ORGS, "Orgs of type school", roster_orgs.c.type == "school")
_collection_routes("academicSessions", roster.ACADEMIC_SESSIONS,
                   "Academic sessions (school years, terms, ...)")
_collection_routes("courses", roster.COURSES, "Courses")
_collection_routes("classes", roster.CLASSES, "Classes")
_collection_routes("enrollments", roster.ENROLLMENTS, "Enrollments")


def _members_route(role: str, path: str) -> None:
    @router.get(f"/classes/{{class_id}}/{path}", summary=f"The {path} enrolled in a class",
                responses={**_ERRORS, 404: {"description": "No such class (OneRoster error)"}},
                operation_id=f"oneroster_class_{path}")
    def members(class_id: str, request: Request, _token: RosterReader,
                query: Query) -> JsonResponse:
        return _collection(request, query, roster.USERS,
                           lambda conn: roster.class_members(conn, class_id, role), "users")


_members_route("student", "students")
_members_route("teacher", "teachers")


def install(app: FastAPI) -> None:
    install_oneroster_errors(app)
    app.include_router(router)
