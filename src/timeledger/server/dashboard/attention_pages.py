"""The teacher's pages: the class view (the home page), what needs attention (learning concerns)
and Integration (app faults, for the operator), and the form that acknowledges or resolves a flag.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from timeledger.server import queries
from timeledger.server.dashboard import exports
from timeledger.server.dashboard.guard import (
    Viewer,
    platform_of,
    require_everyone_viewer,
    require_staff_viewer,
)
from timeledger.server.dashboard.rendering import render, secure
from timeledger.server.dashboard.signin import checked_form, forbidden_form, safe_next
from timeledger.server.queries.class_view import week_start
from timeledger.server.queries.course_catalog import course_info
from timeledger.server.queries.event_log import events_by_id
from timeledger.server.queries.flags import INTEGRATION_KINDS, LEARNING_KINDS, reviewable
from timeledger.server.queries.roster_classes import class_choices
from timeledger.server.queries.roster_links import class_learner_emails, teacher_class_ids
from timeledger.server.store.flag_reviews import (
    MAX_NOTE_CHARS,
    REVIEW_STATUSES,
    ReviewError,
    record_review,
)

T = TypeVar("T")
router = APIRouter(include_in_schema=False)
Everyone = Annotated[Viewer, Depends(require_everyone_viewer)]
# Staff: an admin or the open dashboard (everyone), or a teacher (their classes' learners only).
Staff = Annotated[Viewer, Depends(require_staff_viewer)]

RANGES = {"today": "Today", "week": "This week", "last_week": "Last week", "custom": "Custom"}
FLAGS_SHOWN = 50  # the newest flags of a category on one page (the API gives up to 1,000)


def _row_name(row: dict[str, Any]) -> str:
    return str(row["name"] or row["email"]).lower()


def _number(value: float | None) -> float:
    return -1.0 if value is None else float(value)


CLASS_SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "name": _row_name,
    "today_minutes": lambda row: row["today"]["active_minutes"],
    "today_xp": lambda row: row["today"]["xp"],
    "range_minutes": lambda row: row["range"]["active_minutes"],
    "range_xp": lambda row: row["range"]["xp"],
    "accuracy": lambda row: _number(row["accuracy"]),
    "last_active": lambda row: row["last_active"] or "",
    "attention": lambda row: (row["needs_attention"], len(row["concerns"])),
}


def _read(request: Request, query: Callable[[sa.Connection], T]) -> T:
    with platform_of(request).engine.connect() as conn:
        return query(conn)


def _today(request: Request) -> date:
    platform = platform_of(request)
    return platform.now().astimezone(ZoneInfo(platform.settings.timezone)).date()


def range_of(choice: str, today: date, date_from: str,
             date_to: str) -> tuple[str, date | str | None, date | str | None]:
    """The picker's choice as a from/to pair (custom: as typed, checked by the query)."""
    if choice == "today":
        return choice, today, today
    if choice == "last_week":
        monday = week_start(today) - timedelta(days=7)
        return choice, monday, monday + timedelta(days=6)
    if choice == "custom":
        return choice, date_from or None, date_to or None
    return "week", week_start(today), today


@router.get("/")
@router.get("/class.csv")  # the same rows as CSV (exports.class_csv)
def class_page(request: Request, viewer: Staff, course: str = "", range: str = "week",
               to: str = "", sort: str = "attention", dir: str = "desc",
               attention: str = "",
               roster_class: Annotated[str, Query(alias="class", max_length=255)] = ""
               ) -> Response:
    today = _today(request)
    timezone = platform_of(request).settings.timezone
    date_from = request.query_params.get("from", "")  # a Python parameter cannot be `from`
    choice, start, end = range_of(range if range in RANGES else "week", today, date_from, to)

    def load(conn: sa.Connection) -> dict[str, Any]:
        courses = course_info(conn)
        # a roster class narrows the rows to its students (a teacher: one of their classes)
        classes = class_choices(conn, None if viewer.teacher is None
                                else teacher_class_ids(conn, viewer.teacher))
        emails = viewer.scope
        if roster_class:
            if roster_class not in {c["sourced_id"] for c in classes}:
                raise queries.NotFound(f"No class {roster_class!r} here")
            enrolled = class_learner_emails(conn, roster_class)
            emails = enrolled if emails is None else emails & enrolled
        data = queries.class_view(conn, today, timezone, start, end, course or None, emails)
        return {"data": data, "courses": sorted(courses.values(), key=lambda c: c["name"]),
                "classes": classes}

    try:
        context = _read(request, load)
    except (queries.InvalidParameter, queries.NotFound) as exc:
        message = f"{exc.name}: {exc.message}" if isinstance(exc, queries.InvalidParameter) \
            else str(exc)
        return render(request, viewer, "denied.html", {"heading": "Invalid request",
                                                       "message": message}, status=400)
    rows = context["data"]["learners"]
    if attention:
        rows = [row for row in rows if row["needs_attention"]]
    if sort not in CLASS_SORTS:
        sort = "attention"
    descending = dir != "asc"
    rows.sort(key=_row_name)
    rows.sort(key=CLASS_SORTS[sort], reverse=descending)
    if request.url.path == "/class.csv":
        return exports.class_csv(request, context["data"], rows, course)
    base = {"course": course, "class": roster_class, "range": choice, "attention": attention}
    if choice == "custom":
        base.update({"from": str(context["data"]["range"]["from"]),
                     "to": str(context["data"]["range"]["to"])})
    return render(request, viewer, "class.html", {
        **context, "rows": rows, "course": course, "roster_class": roster_class,
        "range_choice": choice, "ranges": RANGES,
        "sort": sort, "dir": "desc" if descending else "asc", "attention": attention,
        "query": urlencode(base), "here": str(request.url.path) + (
            "?" + request.url.query if request.url.query else ""),
        "statuses": REVIEW_STATUSES, "max_note": MAX_NOTE_CHARS})


@router.get("/flags")
def flags_page(request: Request, viewer: Staff, kind: str = "") -> Response:
    """Needs attention: learning concerns worked out today, and stored learning flags."""
    today = _today(request)
    timezone = platform_of(request).settings.timezone

    def load(conn: sa.Connection) -> dict[str, Any]:
        checked = queries.check_kind(kind)
        stored = [] if checked in INTEGRATION_KINDS else queries.list_flags(
            conn, kind=checked, category="learning", learners=viewer.scope, limit=FLAGS_SHOWN)
        concerns = [] if checked else [
            {**concern, "learner": row["email"], "name": row["name"]}
            for row in queries.class_view(conn, today, timezone,
                                          learner_emails=viewer.scope)["learners"]
            for concern in row["concerns"]]
        return {"flags": stored, "concerns": concerns}

    try:
        context = _read(request, load)
    except queries.InvalidParameter as exc:
        return render(request, viewer, "denied.html", {
            "heading": "Invalid request", "message": f"{exc.name}: {exc.message}"}, status=400)
    return render(request, viewer, "flags.html", {
        **context, "kind": kind, "kinds": LEARNING_KINDS, "shown": FLAGS_SHOWN,
        "statuses": REVIEW_STATUSES,
        "max_note": MAX_NOTE_CHARS, "here": "/flags" + (f"?kind={kind}" if kind else "")})


@router.get("/integration")
def integration_page(request: Request, viewer: Everyone, kind: str = "") -> Response:
    """Integration faults: how apps report (for the operator), with the events behind each."""

    def load(conn: sa.Connection) -> dict[str, Any]:
        checked = queries.check_kind(kind)
        found = [] if checked in LEARNING_KINDS else queries.list_flags(
            conn, kind=checked, category="integration", limit=FLAGS_SHOWN)
        wanted = sorted({event_id for flag in found for event_id in flag["event_ids"]})
        return {"flags": found, "behind": events_by_id(conn, wanted)}

    try:
        context = _read(request, load)
    except queries.InvalidParameter as exc:
        return render(request, viewer, "denied.html", {
            "heading": "Invalid request", "message": f"{exc.name}: {exc.message}"}, status=400)
    return render(request, viewer, "integration.html", {
        **context, "kind": kind, "kinds": INTEGRATION_KINDS, "shown": FLAGS_SHOWN,
        "statuses": REVIEW_STATUSES, "max_note": MAX_NOTE_CHARS,
        "here": "/integration" + (f"?kind={kind}" if kind else "")})


@router.post("/flags/review")
async def review_flag(request: Request, viewer: Staff) -> Response:
    """Acknowledge or resolve a flag or concern with a note; back to the page it came from."""
    form = await checked_form(request, viewer)
    if form is None:
        return forbidden_form(request, viewer)
    key = form.get("flag", "")
    platform = platform_of(request)

    def save(conn: sa.Connection) -> bool:
        about = reviewable(conn, key)
        if about is None or not viewer.may_see_learner(about):
            return False  # never says whether another class's flag exists
        record_review(conn, key, form.get("status", ""), form.get("note", ""), viewer.name,
                      platform.now())
        return True

    def write() -> bool:
        with platform.engine.begin() as conn:
            return save(conn)

    try:
        saved = await run_in_threadpool(write)
    except ReviewError as exc:
        return render(request, viewer, "denied.html", {
            "heading": "Not saved", "message": f"{exc.field}: {exc.message}"}, status=400)
    if not saved:
        return render(request, viewer, "denied.html", {
            "heading": "Not found", "message": "There is no such flag."}, status=404)
    return secure(RedirectResponse(safe_next(form.get("next")), status_code=303), request)
