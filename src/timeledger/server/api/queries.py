"""The query API (`/api/v1`, scope reports:read): learners, runs, gradebook, flags, courses, the
class view."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Query, Request

from timeledger.caliper.errors import Problem
from timeledger.server import queries
from timeledger.server.api.auth import platform_of, require_scope
from timeledger.server.api.consistency import read_consistency, with_projection
from timeledger.server.api.errors import ApiError
from timeledger.server.queries import read_models
from timeledger.server.queries.roster_links import class_learner_emails
from timeledger.server.store.credentials import AccessToken

T = TypeVar("T")
# Every answer is checked against its read model; `projected_through` appears once it is set.
router = APIRouter(prefix="/api/v1", tags=["queries"])
Reader = Annotated[AccessToken, Depends(require_scope("reports:read"))]
MAX_CLASS_LEARNERS = 1000  # learner= parameters one class view call takes


def _limit(maximum: int, what: str) -> Any:
    return Query(ge=1, le=maximum, description=f"{what} on one page (at most {maximum})")


After = Annotated[str | None, Query(max_length=queries.MAX_CURSOR_CHARS,
                                    description="Cursor: the `next` of the last page")]


def _read(request: Request, query: Callable[[sa.Connection], T]) -> T:
    """Run one query on a connection of its own, turning its errors into 400 / 404 replies."""
    platform = platform_of(request)
    try:
        with platform.engine.connect() as conn:
            return query(conn)
    except queries.InvalidParameter as exc:
        raise ApiError(400, f"Invalid {exc.name}: {exc.message}",
                       [Problem(exc.name, exc.message)]) from None
    except queries.NotFound as exc:
        raise ApiError(404, str(exc)) from None


def _learner(conn: sa.Connection, learner: str | None) -> str | None:
    return None if not learner else queries.resolve_learner(conn, learner)


@router.get("/learners", summary="Learners with totals, by email, a page at a time",
            response_model=read_models.LearnerList, response_model_exclude_unset=True)
def learners(request: Request, _token: Reader,
             limit: Annotated[int, _limit(queries.MAX_LEARNERS_PAGE, "Learners")]
             = queries.MAX_LEARNERS_PAGE,
             after: After = None) -> dict[str, Any]:
    return with_projection(request, _read(
        request, lambda conn: queries.learners_page(conn, limit, after)))


@router.get("/learners/{learner:path}/summary",
            summary="A learner's days, totals and goals (learner: email or actor id)",
            response_model=read_models.LearnerSummary, response_model_exclude_unset=True)
def learner_summary(
    learner: str, request: Request, _token: Reader,
    date_from: Annotated[date | None, Query(
        alias="from", description=f"First day (default: {queries.DEFAULT_SUMMARY_DAYS - 1} days "
                                  f"before to; at most {queries.MAX_SUMMARY_DAYS} days in all)")]
    = None,
    date_to: Annotated[date | None, Query(alias="to", description=(
        "Last day (default: today when from is given, else the learner's last active day)"))]
    = None,
    course: Annotated[str | None, Query(description="Only this course id")] = None,
) -> dict[str, Any]:
    platform = platform_of(request)
    today = platform.now().astimezone(ZoneInfo(platform.settings.timezone)).date()

    def load(conn: sa.Connection) -> dict[str, Any]:
        last = queries.last_active_day(conn, queries.resolve_learner(conn, learner))
        start, end = queries.summary_window(today, date_from, date_to, last)
        return queries.learner_summary(conn, learner, start, end, course or None)

    return with_projection(request, _read(request, load))


@router.get("/runs", summary="Runs, most recently seen first, a page at a time",
            response_model=read_models.RunList, response_model_exclude_unset=True)
def runs(request: Request, _token: Reader,
         learner: Annotated[str | None, Query(description="Email or actor id")] = None,
         course: str | None = None,
         limit: Annotated[int, _limit(queries.MAX_RUNS_PAGE, "Runs")]
         = queries.DEFAULT_RUNS_PAGE,
         after: After = None) -> dict[str, Any]:
    return with_projection(request, _read(request, lambda conn: queries.runs_page(
        conn, _learner(conn, learner), course or None, limit, after)))


# A run's lists come before the run itself: `{run_id:path}` would take ".../windows" as a key.
@router.get("/runs/{run_id:path}/windows",
            summary="A run's windows in start order, a page at a time (run_id: UUID or key)",
            response_model=read_models.RunWindowList, response_model_exclude_unset=True)
def run_windows(run_id: str, request: Request, _token: Reader,
                limit: Annotated[int, _limit(queries.MAX_RUN_WINDOWS, "Windows")]
                = queries.DEFAULT_RUN_WINDOWS,
                after: After = None) -> dict[str, Any]:
    return with_projection(request, _read(request, lambda conn: queries.run_windows_page(
        conn, queries.known_run(conn, run_id), limit, after)))


@router.get("/runs/{run_id:path}/session-days",
            summary="The local days a run had time on, oldest first, a page at a time "
                    "(run_id: UUID or key)",
            response_model=read_models.SessionDayList, response_model_exclude_unset=True)
def run_session_days(run_id: str, request: Request, _token: Reader,
                     limit: Annotated[int, _limit(queries.MAX_RUN_DAYS, "Days")]
                     = queries.DEFAULT_RUN_DAYS,
                     after: After = None) -> dict[str, Any]:
    return with_projection(request, _read(request, lambda conn: queries.run_days_page(
        conn, queries.known_run(conn, run_id), limit, after)))


@router.get("/runs/{run_id:path}/flags",
            summary="A run's flags, newest first, a page at a time (run_id: UUID or key)",
            response_model=read_models.FlagList, response_model_exclude_unset=True)
def run_flags(run_id: str, request: Request, _token: Reader,
              limit: Annotated[int, _limit(queries.MAX_RUN_FLAGS, "Flags")]
              = queries.DEFAULT_RUN_FLAGS,
              after: After = None) -> dict[str, Any]:
    return with_projection(request, _read(request, lambda conn: queries.run_flags_page(
        conn, queries.known_run(conn, run_id), limit, after)))


@router.get("/runs/{run_id:path}",
            summary="One run: time, windows, sessions, completion, flags (run_id: the run's UUID, "
                    "or the app's own runId when it was not a UUID); each list's first page",
            response_model=read_models.RunDetail, response_model_exclude_unset=True)
def run(run_id: str, request: Request, _token: Reader) -> dict[str, Any]:
    return with_projection(request, _read(request, lambda conn: queries.get_run(conn, run_id)))


@router.get("/gradebook", summary="Line items, results per attempt, and course progress, "
                                   "a page of results at a time",
            response_model=read_models.Gradebook, response_model_exclude_unset=True)
def gradebook(request: Request, _token: Reader,
              learner: Annotated[str | None, Query(description="Email or actor id")] = None,
              course: str | None = None,
              limit: Annotated[int, _limit(queries.MAX_GRADEBOOK_PAGE, "Results")]
              = queries.MAX_GRADEBOOK_PAGE,
              after: After = None) -> dict[str, Any]:
    def load(conn: sa.Connection) -> dict[str, Any]:
        cursor = None if after is None else queries.decode_cursor("after", after)
        return queries.gradebook_page(conn, _learner(conn, learner), course or None, limit,
                                      cursor)

    return with_projection(request, _read(request, load))


@router.get("/flags", summary="Flags, newest first, a page at a time",
            response_model=read_models.FlagList, response_model_exclude_unset=True)
def flags(request: Request, _token: Reader,
          learner: Annotated[str | None, Query(description="Email or actor id")] = None,
          run: Annotated[str | None, Query(description="Run id (UUID) or run key")] = None,
          kind: str | None = None, course: str | None = None,
          category: Annotated[str | None, Query(
              description="learning (teachers, the learner) or integration (the operator)")] = None,
          limit: Annotated[int, _limit(queries.MAX_FLAGS, "Flags")] = queries.MAX_FLAGS,
          after: After = None) -> dict[str, Any]:
    def load(conn: sa.Connection) -> dict[str, Any]:
        checked_kind = queries.check_kind(kind)
        if run:
            try:
                run_id: str | None = queries.resolve_run_id(conn, run)
            except queries.NotFound:
                return {"flags": [], "next": None}  # a key no run has, as an unknown UUID
        else:
            run_id = None
        return queries.flags_page(conn, _learner(conn, learner), run_id,
                                  checked_kind, course or None,
                                  queries.check_category(category), limit, after)

    return with_projection(request, _read(request, load))


@router.get("/courses", summary="Courses with totals and progress, by id, a page at a time",
            response_model=read_models.CourseList, response_model_exclude_unset=True)
def courses(request: Request, _token: Reader,
            limit: Annotated[int, _limit(queries.MAX_COURSES_PAGE, "Courses")]
            = queries.MAX_COURSES_PAGE,
            after: After = None) -> dict[str, Any]:
    return with_projection(request, _read(
        request, lambda conn: queries.courses_page(conn, limit, after)))


@router.get("/courses/{course_id:path}", summary="One course with totals and progress",
            response_model=read_models.CourseDetail, response_model_exclude_unset=True)
def course(course_id: str, request: Request, _token: Reader) -> dict[str, Any]:
    return with_projection(request, _read(
        request, lambda conn: queries.get_course(conn, course_id)))


@router.get("/overview", summary="Per-day totals across all learners, ending today",
            response_model=read_models.Overview, response_model_exclude_unset=True)
def overview(request: Request, _token: Reader,
             days: Annotated[int, Query(ge=1, le=366)] = 14) -> dict[str, Any]:
    platform = platform_of(request)
    timezone = platform.settings.timezone
    today = platform.now().astimezone(ZoneInfo(timezone)).date()
    return with_projection(request, _read(
        request, lambda conn: queries.overview(conn, today, timezone, days)))


@router.get("/class", summary="One row per learner: today and a range against goals, concerns; "
                              "a page of learners at a time",
            response_model=read_models.ClassView, response_model_exclude_unset=True)
def class_view(
    request: Request, _token: Reader,
    course: Annotated[str | None, Query(description="Only this course id")] = None,
    date_from: Annotated[date | None, Query(alias="from",
                                            description="First day (default: Monday)")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="Last day (default: today)")]
    = None,
    learner: Annotated[list[str] | None, Query(
        description="Only these learners (email or actor id; repeat the parameter)",
        max_length=MAX_CLASS_LEARNERS)] = None,
    roster_class: Annotated[str | None, Query(
        alias="class", max_length=255,
        description="Only the students of this roster class (its OneRoster sourcedId)")] = None,
    limit: Annotated[int, _limit(queries.MAX_CLASS_PAGE, "Learners")] = queries.MAX_CLASS_PAGE,
    after: After = None,
) -> dict[str, Any]:
    platform = platform_of(request)
    timezone = platform.settings.timezone
    today = platform.now().astimezone(ZoneInfo(timezone)).date()

    def load(conn: sa.Connection) -> dict[str, Any]:
        emails: frozenset[str] | None = None if learner is None else frozenset(
            queries.resolve_learner(conn, who) for who in learner)
        if roster_class:
            enrolled = class_learner_emails(conn, roster_class)
            emails = enrolled if emails is None else emails & enrolled
        return queries.class_view(conn, today, timezone, date_from, date_to, course or None,
                                  emails, limit, after)

    return with_projection(request, _read(request, load))


@router.get("/projection", summary="How far the projections have got (consistent=true: wait)",
            response_model=read_models.Projected, response_model_exclude_unset=True)
def projection(request: Request, _token: Reader) -> dict[str, Any]:
    return with_projection(request, {})


def install(app: FastAPI) -> None:
    app.include_router(router, dependencies=[Depends(read_consistency)])
