"""OneRoster 1.2 gradebook REST: assessmentLineItems and assessmentResults, read and written.

Reads (scope roster:read) list the projected gradebook and the written records together; PUT
(scope gradebook:write) stores a record under the sourcedId in the path, replacing the one there;
POST creates one (sourcedIdPairs back). A written record keeps what it was sent (its own table),
so `rebuild` never loses it. Bad input is a 400 in OneRoster's error shape naming the field.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from timeledger.server.api.auth import platform_of, require_scope
from timeledger.server.api.bodies import read_limited_body
from timeledger.server.api.consistency import read_consistency
from timeledger.server.api.oneroster_responses import (
    OneRosterError,
    collection_response,
    install_oneroster_errors,
    read_oneroster,
)
from timeledger.server.api.oneroster_rostering import Query as CollectionParameters
from timeledger.server.json_response import JsonResponse
from timeledger.server.queries import oneroster_gradebook as gradebook
from timeledger.server.queries.oneroster_collection import CollectionQuery
from timeledger.server.store.credentials import AccessToken
from timeledger.server.store.database import begin_write
from timeledger.server.store.gradebook_records import put_line_item, put_result
from timeledger.server.store.roster_tables import roster_users

PREFIX = "/ims/oneroster/gradebook/v1p2"
MAX_BODY_BYTES = 64 * 1024  # one record: a title, a comment, refs and a little metadata
MAX_METADATA_BYTES = 16 * 1024  # metadata and fields kept without a column, as JSON
MAX_DEPTH = 32  # objects and arrays within the body, the wrapper included
SourcedIdText = Annotated[str, Field(min_length=1, max_length=255)]

router = APIRouter(prefix=PREFIX, tags=["oneroster gradebook"])
Consistent = [Depends(read_consistency)]  # reads may wait for the projections (consistent=true)
Reader = Annotated[AccessToken, Depends(require_scope("roster:read"))]
Writer = Annotated[AccessToken, Depends(require_scope("gradebook:write"))]
_LIST_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A malformed filter, sort, fields, limit or offset (OneRoster error)"}}
_WRITE_ANSWERS: dict[int | str, dict[str, Any]] = {
    201: {"description": "Created"},
    400: {"description": "The body is not the record's JSON, or a field is invalid: the "
                         "description names it (OneRoster error, codeMinor invalid_data)"},
    413: {"description": f"The body is over {MAX_BODY_BYTES} bytes"}}
_CREATE_ANSWERS: dict[int | str, dict[str, Any]] = {
    **_WRITE_ANSWERS, 409: {"description": "A record with that sourcedId exists (PUT replaces)"}}


class Ref(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sourcedId: SourcedIdText
    href: str | None = Field(default=None, max_length=2000)
    type: str | None = Field(default=None, max_length=100)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sourcedId: SourcedIdText | None = None
    status: Literal["active", "tobedeleted"] = "active"
    dateLastModified: str | None = Field(default=None, max_length=40)  # the platform sets it
    metadata: dict[str, Any] | None = None


class LineItemIn(_Record):
    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=2000)
    class_: Ref | None = Field(default=None, alias="class")
    course: Ref | None = None
    school: Ref | None = None
    component: Ref | None = None
    componentResource: Ref | None = None
    parentAssessmentLineItem: Ref | None = None
    scoreScale: Ref | None = None
    resultValueMin: float | None = Field(default=None, allow_inf_nan=False)
    resultValueMax: float | None = Field(default=None, allow_inf_nan=False)
    learningObjectiveSet: list[dict[str, Any]] | None = None


class ResultIn(_Record):
    assessmentLineItem: Ref
    student: Ref
    score: float | None = Field(default=None, allow_inf_nan=False)
    textScore: str | None = Field(default=None, max_length=300)
    scoreDate: str = Field(min_length=10, max_length=40)
    scoreStatus: Literal["exempt", "fully graded", "not submitted", "partially graded",
                         "submitted"]
    scoreScale: Ref | None = None
    scorePercentile: float | None = Field(default=None, allow_inf_nan=False)
    comment: str | None = Field(default=None, max_length=2000)
    learningObjectiveSet: list[dict[str, Any]] | None = None
    inProgress: str | None = Field(default=None, max_length=20)
    incomplete: str | None = Field(default=None, max_length=20)
    late: str | None = Field(default=None, max_length=20)
    missing: str | None = Field(default=None, max_length=20)


def _invalid(field: str, message: str) -> OneRosterError:
    return OneRosterError(400, f"Invalid {field}: {message}", "invalid_data")


def _json_text(value: dict[str, Any] | None, field: str) -> str | None:
    if not value:
        return None
    text = json.dumps(value, separators=(",", ":"))
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise _invalid(field, f"over {MAX_METADATA_BYTES} bytes as JSON")
    return text


def _score_time(text: str) -> datetime:
    """scoreDate as a time: an ISO 8601 date-time with a zone, or a date (its midnight UTC)."""
    field = "assessmentResult.scoreDate"
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(field, f"{text!r} is not an ISO 8601 date or date-time") from None
    if moment.tzinfo is None:
        raise _invalid(field, f"{text!r} has no time zone (add Z or an offset)")
    return moment.astimezone(UTC)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _problem_in(value: Any, path: str, depth: int = 0) -> tuple[str, str] | None:
    """Where the document nests too deeply, or a text (key or value) holds a NUL character."""
    if depth > MAX_DEPTH:
        return path, f"nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, str):
        return (path, "holds a NUL character") if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return where, "holds a NUL character"
        found = _problem_in(item, where, depth + 1)
        if found is not None:
            return found
    return None


async def _body(request: Request, wrapper: str, model: type[BaseModel]) -> Any:
    raw = await read_limited_body(request, MAX_BODY_BYTES)
    try:
        document = json.loads(raw, parse_constant=_no_constant)
        problem = _problem_in(document, "")
    except (ValueError, UnicodeDecodeError):
        raise _invalid("body", "not JSON (NaN and Infinity are not numbers in JSON)") from None
    except RecursionError:
        raise _invalid("body", "nested too deeply") from None
    if not isinstance(document, dict) or not isinstance(document.get(wrapper), dict):
        raise _invalid("body", f'expected {{"{wrapper}": {{...}}}}')
    if problem is not None:
        raise _invalid(*problem)
    try:
        return model.model_validate(document[wrapper])
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join([wrapper, *(str(part) for part in first["loc"])])
        raise _invalid(path, first["msg"]) from None


def _sourced_id(path_id: str, body_id: str | None, wrapper: str) -> str:
    if not path_id or len(path_id) > 255:
        raise _invalid("sourcedId", "must be 1 to 255 characters")
    if body_id is not None and body_id != path_id:
        raise _invalid(f"{wrapper}.sourcedId",
                       f"{body_id!r} differs from the sourcedId in the path {path_id!r}")
    return path_id


def _ref_id(ref: Ref | None) -> str | None:
    return None if ref is None else ref.sourcedId


def _line_item_row(sourced_id: str, item: LineItemIn, now: datetime) -> dict[str, Any]:
    extra = {"learningObjectiveSet": item.learningObjectiveSet} \
        if item.learningObjectiveSet is not None else None
    return {
        "sourced_id": sourced_id, "status": item.status, "date_last_modified": now,
        "title": item.title, "description": item.description,
        "class_sourced_id": _ref_id(item.class_), "course_sourced_id": _ref_id(item.course),
        "school_sourced_id": _ref_id(item.school),
        "component_sourced_id": _ref_id(item.component),
        "component_resource_sourced_id": _ref_id(item.componentResource),
        "parent_sourced_id": _ref_id(item.parentAssessmentLineItem),
        "score_scale_sourced_id": _ref_id(item.scoreScale),
        "result_value_min": item.resultValueMin, "result_value_max": item.resultValueMax,
        "metadata_json": _json_text(item.metadata, "assessmentLineItem.metadata"),
        "extra_json": _json_text(extra, "assessmentLineItem.learningObjectiveSet"),
    }


def _result_row(sourced_id: str, result: ResultIn, now: datetime) -> dict[str, Any]:
    extra = {name: value for name, value in (
        ("scoreScale", result.scoreScale.model_dump(exclude_none=True)
         if result.scoreScale else None),
        ("learningObjectiveSet", result.learningObjectiveSet),
        ("inProgress", result.inProgress), ("incomplete", result.incomplete),
        ("late", result.late), ("missing", result.missing)) if value is not None}
    return {
        "sourced_id": sourced_id, "status": result.status, "date_last_modified": now,
        "line_item_sourced_id": result.assessmentLineItem.sourcedId,
        "student_sourced_id": result.student.sourcedId, "score": result.score,
        "text_score": result.textScore, "score_date": result.scoreDate,
        "score_time": _score_time(result.scoreDate), "score_status": result.scoreStatus,
        "score_percentile": result.scorePercentile, "comment": result.comment,
        "metadata_json": _json_text(result.metadata, "assessmentResult.metadata"),
        "extra_json": _json_text(extra, "assessmentResult"),
    }


def _write(request: Request, write: Callable[[sa.Connection], bool]) -> bool:
    """One transaction that checks, then writes (holding SQLite's write lock from the start)."""
    with begin_write(platform_of(request).engine) as conn:
        return write(conn)


def _store_result(conn: sa.Connection, row: dict[str, Any]) -> bool:
    if not gradebook.line_item_exists(conn, row["line_item_sourced_id"]):
        raise _invalid("assessmentResult.assessmentLineItem.sourcedId",
                       f"no assessmentLineItem {row['line_item_sourced_id']!r}")
    student = conn.execute(sa.select(roster_users.c.sourced_id).where(
        roster_users.c.sourced_id == row["student_sourced_id"])).first()
    if student is None:
        raise _invalid("assessmentResult.student.sourcedId",
                       f"no roster user {row['student_sourced_id']!r}")
    return put_result(conn, row)


@dataclass(frozen=True, slots=True)
class RecordKind:
    """A kind of gradebook record the API serves: its collection and wrapper names, how it is
    listed and read, its body's model, the row it becomes, how it is stored (checked first),
    and whether a sourcedId is taken."""

    collection: str
    wrapper: str
    listed: Callable[[sa.Connection, CollectionQuery], tuple[list[dict[str, Any]], int]]
    read: Callable[[sa.Connection, str], dict[str, Any]]
    model: type[BaseModel]
    row: Callable[[str, Any, datetime], dict[str, Any]]
    store: Callable[[sa.Connection, dict[str, Any]], bool]
    exists: Callable[[sa.Connection, str], bool]


LINE_ITEMS = RecordKind("assessmentLineItems", "assessmentLineItem", gradebook.list_line_items,
                        gradebook.get_line_item, LineItemIn, _line_item_row, put_line_item,
                        gradebook.line_item_exists)
RESULTS = RecordKind("assessmentResults", "assessmentResult", gradebook.list_results,
                     gradebook.get_result, ResultIn, _result_row, _store_result,
                     gradebook.result_exists)


def _add_routes(kind: RecordKind, noun: str, name: str, list_summary: str) -> None:
    """GET the collection and one record, PUT one under its sourcedId, POST a new one."""

    def list_records(request: Request, _token: Reader, query: CollectionParameters
                     ) -> JsonResponse:
        records, total = read_oneroster(request, lambda c: kind.listed(c, query))
        return collection_response(request, kind.collection, records, total, query)

    def get_record(sourced_id: str, request: Request, _token: Reader) -> dict[str, Any]:
        return {kind.wrapper: read_oneroster(request, lambda c: kind.read(c, sourced_id))}

    async def put_record(sourced_id: str, request: Request, _token: Writer) -> JsonResponse:
        record = await _body(request, kind.wrapper, kind.model)
        row = kind.row(_sourced_id(sourced_id, record.sourcedId, kind.wrapper), record,
                       platform_of(request).now())
        created = await run_in_threadpool(_write, request, lambda c: kind.store(c, row))
        stored = await run_in_threadpool(read_oneroster, request,
                                         lambda c: kind.read(c, sourced_id))
        return JsonResponse({kind.wrapper: stored}, status_code=201 if created else 200)

    async def create_record(request: Request, _token: Writer) -> JsonResponse:
        record = await _body(request, kind.wrapper, kind.model)
        supplied = record.sourcedId or str(uuid.uuid4())
        row = kind.row(supplied, record, platform_of(request).now())

        def create(conn: sa.Connection) -> bool:
            if kind.exists(conn, supplied):
                raise OneRosterError(409, f"{kind.wrapper} {supplied!r} exists; PUT replaces it",
                                     "invalid_data")
            return kind.store(conn, row)

        await run_in_threadpool(_write, request, create)
        return JsonResponse({"sourcedIdPairs": {"suppliedSourcedId": supplied,
                                                "allocatedSourcedId": supplied}},
                            status_code=201)

    path = f"/{kind.collection}"
    router.add_api_route(path, list_records, methods=["GET"], name=f"list_{name}s",
                         summary=list_summary, responses=_LIST_ERRORS, dependencies=Consistent)
    router.add_api_route(path + "/{sourced_id}", get_record, methods=["GET"], name=f"get_{name}",
                         summary=f"One {noun}", dependencies=Consistent)
    router.add_api_route(path + "/{sourced_id}", put_record, methods=["PUT"],
                         name=f"put_{name}_route", summary=f"Create or replace a {noun}",
                         responses=_WRITE_ANSWERS)
    router.add_api_route(path, create_record, methods=["POST"], name=f"create_{name}",
                         summary=f"Create a {noun}", responses=_CREATE_ANSWERS)


_add_routes(LINE_ITEMS, "line item", "line_item", "Line items: projected and written")
_add_routes(RESULTS, "result", "result", "Results: projected (one per attempt) and written")


def install(app: FastAPI) -> None:
    install_oneroster_errors(app)
    app.include_router(router)
