"""The dashboard's pages: each reads the projections through `timeledger.server.queries`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from timeledger.server import queries
from timeledger.server.dashboard import charts, explorer
from timeledger.server.dashboard.access import AccessError
from timeledger.server.dashboard.guard import (
    Viewer,
    access_of,
    platform_of,
    require_everyone_viewer,
    require_learner_access,
    require_staff_viewer,
    require_viewer,
)
from timeledger.server.dashboard.rendering import render, secure
from timeledger.server.dashboard.signin import checked_form, forbidden_form
from timeledger.server.json_response import JsonResponse
from timeledger.server.queries.course_catalog import course_info
from timeledger.server.queries.flags import count_flags
from timeledger.server.store.commit_order import MAX_SEQ, LogCursor

T = TypeVar("T")
router = APIRouter(include_in_schema=False)
Everyone = Annotated[Viewer, Depends(require_everyone_viewer)]
AnyViewer = Annotated[Viewer, Depends(require_viewer)]
Staff = Annotated[Viewer, Depends(require_staff_viewer)]  # a teacher too: their learners only

RANGE_DAYS = 14
RECENT_RUNS = 25
RECENT_RESULTS = 50  # gradebook results on a learner's page (newest first; the API has all)
RECENT_FLAGS = 50
SHARE_LINK_DAYS = 14
LEARNERS_PER_PAGE = 100  # rows of /learners one page shows; `page` turns to the others
MAX_LEARNER_PAGES = 100_000  # the highest `page` /learners takes (10 million learners)


def _read(request: Request, query: Callable[[sa.Connection], T]) -> T:
    with platform_of(request).engine.connect() as conn:
        return query(conn)


def _today(request: Request) -> date:
    platform = platform_of(request)
    return platform.now().astimezone(ZoneInfo(platform.settings.timezone)).date()


def _missing(request: Request, viewer: Viewer, what: str) -> Response:
    return render(request, viewer, "denied.html", {
        "heading": "Not found", "message": f"There is no {what} here."}, status=404)


def _bad_parameter(request: Request, viewer: Viewer, exc: queries.InvalidParameter) -> Response:
    return render(request, viewer, "denied.html", {
        "heading": "Invalid request", "message": f"{exc.name}: {exc.message}"}, status=400)


@router.get("/overview")
def overview_page(request: Request, viewer: Everyone) -> Response:
    today = _today(request)
    timezone = platform_of(request).settings.timezone
    data = _read(request, lambda conn: queries.overview(conn, today, timezone, RANGE_DAYS))
    figures = charts.overview_charts(data["dates"], data["series"])
    return render(request, viewer, "overview.html", {
        "data": data, "figures": figures, "charts": True, "today": today,
        "range_days": RANGE_DAYS})


@router.get("/learners")
def learners_page(request: Request, viewer: Everyone, q: str = "", sort: str = "name",
                  dir: str = "asc",
                  page: Annotated[int, Query(ge=1, le=MAX_LEARNER_PAGES)] = 1) -> Response:
    if sort not in queries.LEARNER_SORTS:
        sort = "name"
    descending = dir == "desc"
    first = (page - 1) * LEARNERS_PER_PAGE
    rows, total = _read(request, lambda conn: queries.listed_learners(
        conn, q.strip().lower(), sort, descending, first, LEARNERS_PER_PAGE))
    return render(request, viewer, "learners.html", {
        "rows": rows, "total": total, "first": first,
        "page": page, "pages": max(1, -(-total // LEARNERS_PER_PAGE)),
        "q": q, "sort": sort, "dir": "desc" if descending else "asc"})


def _learner_context(conn: sa.Connection, email: str, today: date, course: str | None,
                     runs_shown: int) -> dict[str, Any]:
    start = (today - timedelta(days=RANGE_DAYS - 1)).isoformat()
    (listed,) = queries.list_learners(conn, [email])  # all-time totals, one row
    all_time = {"learner": {k: v for k, v in listed.items() if k != "totals"},
                "totals": listed["totals"]}
    courses_taken = queries.learner_courses(conn, email)
    if course not in courses_taken:
        course = None
    recent = queries.learner_summary(conn, email, start, today.isoformat(), course)
    info = course_info(conn)
    goal_courses = [course] if course else sorted(
        {cid for day in recent["days"] for cid in day["courses"]})
    goals: dict[str, float] = {}
    for cid in goal_courses:
        for name, value in (info.get(cid, {}).get("goals") or {}).items():
            if name in ("dailyActiveMinutes", "dailyXp"):
                goals[name] = goals.get(name, 0.0) + value
    dates = [(today - timedelta(days=offset)).isoformat()
             for offset in range(RANGE_DAYS - 1, -1, -1)]
    by_date = {day["date"]: day for day in recent["days"]}
    figures = charts.learner_charts(dates, by_date, goals)
    book = queries.gradebook(conn, email, course, newest=RECENT_RESULTS)
    results = sorted(
        ({**result, "course_name": item["course_name"], "activity_name": item["activity_name"],
          "activity_id": item["activity_id"]}
         for item in book["line_items"] for result in item["results"]),
        key=lambda result: result["score_date"] or "", reverse=True)
    return {
        "summary": all_time, "recent": recent, "course": course,
        "courses_taken": [{"id": cid, "name": info.get(cid, {}).get("name", cid)}
                          for cid in courses_taken],
        "course_names": {cid: entry["name"] for cid, entry in info.items()},
        "goals": goals, "figures": figures,
        "days": list(reversed(recent["days"])),
        "runs": queries.list_runs(conn, email, course, runs_shown + 1),
        "runs_shown": runs_shown,
        "results": results, "progress": book["progress"],
        "flags": queries.list_flags(conn, learner=email, course=course, category="learning",
                                    limit=RECENT_FLAGS),
        "integration_faults": count_flags(conn, email, "integration"),
        "range": {"from": start, "to": today.isoformat()},
    }


@router.get("/learners/{learner:path}")
def learner_page(request: Request, learner: str, viewer: AnyViewer, course: str | None = None,
                 runs: Annotated[int, Query(ge=1, le=1000)] = RECENT_RUNS) -> Response:
    today = _today(request)

    def load(conn: sa.Connection) -> dict[str, Any] | None:
        try:
            email = queries.resolve_learner(conn, learner)
        except queries.NotFound:
            require_learner_access(viewer, learner)  # a link never learns who else exists
            return None
        require_learner_access(viewer, email)
        return _learner_context(conn, email, today, course or None, runs)

    context = _read(request, load)
    if context is None:
        return _missing(request, viewer, "such learner")
    return render(request, viewer, "learner.html", {**context, "charts": True,
                                                    "range_days": RANGE_DAYS})


@router.post("/learners/{learner:path}/share")
async def share_learner(request: Request, learner: str, viewer: Staff) -> Response:
    form = await checked_form(request, viewer)
    if form is None:
        return forbidden_form(request, viewer)
    platform = platform_of(request)

    def email_of(conn: sa.Connection) -> str | None:
        try:
            email = queries.resolve_learner(conn, learner)
        except queries.NotFound:
            require_learner_access(viewer, learner)  # a teacher never learns who else exists
            return None
        require_learner_access(viewer, email)
        return email

    email = await run_in_threadpool(_read, request, email_of)
    if email is None:
        return _missing(request, viewer, "such learner")
    try:
        link = await run_in_threadpool(access_of(request).create_share_link, email,
                                       SHARE_LINK_DAYS, viewer.name, platform.now())
    except AccessError as exc:
        return render(request, viewer, "denied.html", {"heading": "Cannot share",
                                                       "message": str(exc)}, status=400)
    url = str(request.base_url).rstrip("/") + "/share/" + link.token
    return render(request, viewer, "shared.html", {"link": link, "url": url,
                                                   "learner_url": "/learners/" + quote(email)})


@router.get("/runs/{run_id:path}")  # the run's UUID, or the app's own key (it may hold a "/")
def run_page(request: Request, run_id: str, viewer: AnyViewer) -> Response:
    timezone = platform_of(request).settings.timezone

    def load(conn: sa.Connection) -> dict[str, Any] | None:
        try:
            run = queries.get_run(conn, run_id)
        except (queries.NotFound, queries.InvalidParameter):  # unknown, or a key two apps used
            require_learner_access(viewer, "")  # a link never learns which runs exist
            return None
        require_learner_access(viewer, run["learner"]["email"])
        return run

    run = _read(request, load)
    if run is None:
        return _missing(request, viewer, "such run")
    return render(request, viewer, "run.html", {
        "run": run, "charts": bool(run["windows"]),
        "timeline": charts.run_timeline("chart-timeline", run["windows"], timezone)})


@router.get("/courses")
def courses_page(request: Request, viewer: Everyone) -> Response:
    return render(request, viewer, "courses.html",
                  {"courses": _read(request, queries.list_courses)})


@router.get("/courses/{course_id:path}")
def course_page(request: Request, course_id: str, viewer: Everyone) -> Response:
    def load(conn: sa.Connection) -> dict[str, Any] | None:
        try:
            course = queries.get_course(conn, course_id)
        except queries.NotFound:
            return None
        progress = queries.course_progress(conn, course_id)
        return {"course": course, "progress": progress,
                "names": queries.learner_names(conn, {p["learner"] for p in progress}),
                "line_items": queries.course_activities(conn, course_id),
                "grid": queries.course_grid(conn, course_id)}

    context = _read(request, load)
    if context is None:
        return _missing(request, viewer, "such course")
    return render(request, viewer, "course.html", context)


def _event_filter(learner: str, type: str, run: str) -> explorer.EventFilter:
    return explorer.EventFilter(learner=learner.strip() or None, type=type.strip() or None,
                                run_id=run.strip() or None)


@router.get("/events")
def events_page(request: Request, viewer: Everyone, learner: str = "", type: str = "",
                run: str = "") -> Response:
    where = _event_filter(learner, type, run)
    timezone = platform_of(request).settings.timezone
    page = _read(request, lambda conn: explorer.events_page(conn, where, timezone=timezone))
    return render(request, viewer, "events.html", {
        "page": page, "where": where, "types": explorer.EVENT_TYPES,
        "endpoint": "/data/events" + ("?" + where.query_string() if where.query_string() else ""),
        "poll_ms": explorer.POLL_MS})


@router.get("/data/events")
def events_data(request: Request, viewer: Everyone, learner: str = "", type: str = "",
                run: str = "", before: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
                after: str | None = None) -> Response:
    """The explorer's JSON: newer events (`after` a cursor) for the live refresh, older ones
    (`before` a seq)."""
    where = _event_filter(learner, type, run)
    timezone = platform_of(request).settings.timezone
    try:
        cursor = None if after is None else LogCursor.parse(after)
    except ValueError:
        return secure(JsonResponse({"error": {
            "field": "after", "message": f"Expected a cursor from an earlier page, got {after!r}"}},
            status_code=400), request)
    page = _read(request, lambda conn: explorer.events_page(
        conn, where, before=before, after=cursor, timezone=timezone))
    return secure(JsonResponse(page), request)
