"""CSV downloads of what the pages show: a learner's days, the gradebook, the class view.

Each is the page's own query with the page's filters, as a spreadsheet opens it: UTF-8 with a
byte-order mark, a header row, raw figures in the API's units, and a `Content-Disposition` file
name that says what and when. A text cell that a spreadsheet would run as a formula (`=`, `+`,
`-`, `@`, tab, carriage return first) is written with a leading `'`: names come from apps.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from timeledger.server import queries
from timeledger.server.dashboard.guard import (
    Viewer,
    platform_of,
    require_everyone_viewer,
    require_learner_access,
    require_viewer,
)
from timeledger.server.dashboard.rendering import render, secure

router = APIRouter(include_in_schema=False)
MAX_ID_CHARS = 2048  # the longest learner or course id a download accepts
DEFAULT_DAYS = 14  # a learner's days without a range: the learner page's window
MAX_RANGE_DAYS = 366  # the longest range of days one download holds
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@-]+")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_response(request: Request, name_parts: Sequence[str], header: Sequence[str],
                 rows: Iterable[Sequence[Any]]) -> Response:
    """A CSV download named `<part>-<part>....csv` (each part reduced to safe characters)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    filename = "-".join(_UNSAFE_NAME.sub("_", part).strip("_") for part in name_parts if part)
    return secure(Response(
        "\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'}), request)


def _today(request: Request) -> date:
    platform = platform_of(request)
    return platform.now().astimezone(ZoneInfo(platform.settings.timezone)).date()


def _invalid(request: Request, viewer: Viewer, name: str, message: str) -> Response:
    return render(request, viewer, "denied.html", {
        "heading": "Invalid request", "message": f"{name}: {message}"}, status=400)


def _too_many_results(request: Request, viewer: Viewer, name: str) -> Response:
    return _invalid(request, viewer, name, (
        f"a gradebook download holds at most {queries.MAX_EXPORT_RESULTS:,} results and this "
        "one has more; download one course at a time, or page through GET /api/v1/gradebook"))


def _missing(request: Request, viewer: Viewer) -> Response:
    return render(request, viewer, "denied.html", {
        "heading": "Not found", "message": "There is no such learner here."}, status=404)


def _learner_email(conn: sa.Connection, viewer: Viewer, learner: str) -> str | None:
    try:
        email = queries.resolve_learner(conn, learner)
    except queries.NotFound:
        require_learner_access(viewer, learner)  # a link never learns who else exists
        return None
    require_learner_access(viewer, email)
    return email


Id = Annotated[str, Query(max_length=MAX_ID_CHARS)]


@router.get("/export/learner-days.csv")
def learner_days_csv(request: Request, viewer: Annotated[Viewer, Depends(require_viewer)],
                     learner: Annotated[str, Query(min_length=1, max_length=MAX_ID_CHARS)],
                     course: Id = "", to: Id = "") -> Response:
    """One row per day with activity (the learner page's days table): `from`/`to` default to
    the learner page's last 14 days, `course` to every course."""
    today = _today(request)
    date_from = request.query_params.get("from", "") or (
        today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    date_to = to or today.isoformat()
    try:
        start, end = queries.check_range(date_from, date_to)
    except queries.InvalidParameter as exc:
        return _invalid(request, viewer, exc.name, exc.message)
    assert start is not None and end is not None  # both given above
    if date.fromisoformat(end) - date.fromisoformat(start) >= timedelta(days=MAX_RANGE_DAYS):
        return _invalid(request, viewer, "from", f"a download holds at most {MAX_RANGE_DAYS} "
                                                 f"days ({start} to {end} is longer)")

    def load(conn: sa.Connection) -> tuple[str, dict[str, Any]] | None:
        email = _learner_email(conn, viewer, learner)
        if email is None:
            return None
        return email, queries.learner_summary(conn, email, start, end, course or None)

    with platform_of(request).engine.connect() as conn:
        found = load(conn)
    if found is None:
        return _missing(request, viewer)
    email, summary = found
    header = ["date", "weekday", "active_minutes", "inactive_minutes", "xp", "completions",
              "total_questions", "correct_questions", "accuracy_percent", "courses",
              "daily_goals_met"]

    def goals_met(day: dict[str, Any]) -> str:
        parts = []
        for course_id, met in sorted(day["goals_met"].items()):
            known = [ok for ok in met.values() if ok is not None]
            parts.append(f"{course_id}: {sum(known)}/{len(known)}")
        return "; ".join(parts)

    rows = ([day["date"], date.fromisoformat(day["date"]).strftime("%A"),
             day["active_minutes"], day["inactive_minutes"], day["xp"], day["completions"],
             day["total_questions"], day["correct_questions"], day["accuracy"],
             "; ".join(day["courses"]), goals_met(day)] for day in summary["days"])
    return csv_response(request, ["days", email, course, start, "to", end], header, rows)


_GRADEBOOK_HEADER = [
    "learner", "course_id", "course_name", "activity_id", "activity_name", "attempt",
    "score_percent", "correct_questions", "total_questions", "xp", "mastered_units",
    "pct_complete", "score_date", "run_id", "source"]


def _gradebook_rows(book: dict[str, Any]) -> Iterable[list[Any]]:
    return ([result["learner"], item["course_id"], item["course_name"], item["activity_id"],
             item["activity_name"], result["attempt"], result["score"],
             result["correct_questions"], result["total_questions"], result["xp"],
             result["mastered_units"], result["pct_complete"], result["score_date"],
             result["run_id"], result["source"]]
            for item in book["line_items"] for result in item["results"])


@router.get("/export/gradebook.csv")
def learner_gradebook_csv(request: Request, viewer: Annotated[Viewer, Depends(require_viewer)],
                          learner: Annotated[str, Query(min_length=1, max_length=MAX_ID_CHARS)],
                          course: Id = "") -> Response:
    """A learner's results (the learner page's gradebook), in one course or every one."""

    def load(conn: sa.Connection) -> tuple[str, dict[str, Any]] | None:
        email = _learner_email(conn, viewer, learner)
        if email is None:
            return None
        return email, queries.gradebook_page(conn, email, course or None,
                                             queries.MAX_EXPORT_RESULTS)

    with platform_of(request).engine.connect() as conn:
        found = load(conn)
    if found is None:
        return _missing(request, viewer)
    email, book = found
    if book["next"] is not None:
        return _too_many_results(request, viewer, "learner")
    return csv_response(request, ["gradebook", email, course, _today(request).isoformat()],
                        _GRADEBOOK_HEADER, _gradebook_rows(book))


@router.get("/export/course-gradebook.csv")
def course_gradebook_csv(request: Request,
                         viewer: Annotated[Viewer, Depends(require_everyone_viewer)],
                         course: Annotated[str, Query(min_length=1, max_length=MAX_ID_CHARS)]
                         ) -> Response:
    """Every learner's results in one course (the course page's gradebook)."""
    with platform_of(request).engine.connect() as conn:
        try:
            queries.get_course(conn, course)
        except queries.NotFound:
            return render(request, viewer, "denied.html", {
                "heading": "Not found", "message": "There is no such course here."}, status=404)
        book = queries.gradebook_page(conn, None, course, queries.MAX_EXPORT_RESULTS)
    if book["next"] is not None:
        return _too_many_results(request, viewer, "course")
    return csv_response(request, ["gradebook", course, _today(request).isoformat()],
                        _GRADEBOOK_HEADER, _gradebook_rows(book))


def class_csv(request: Request, data: dict[str, Any], rows: Sequence[dict[str, Any]],
              course: str) -> Response:
    """The class view's rows as the page shows them (its filters and order): `/class.csv`."""
    periods = ("today", "range")
    figures = ("active_minutes", "active_minutes_goal", "active_minutes_status", "xp",
               "xp_goal", "xp_status")
    header = ["email", "name", "courses", *(f"{period}_{name}" for period in periods
                                            for name in figures),
              "accuracy_percent", "last_active", "needs_attention", "concerns"]
    table = ([row["email"], row["name"], "; ".join(row["courses"]),
              *(row[period][name] for period in periods for name in figures),
              row["accuracy"], row["last_active"], row["needs_attention"],
              "; ".join(concern["kind"] for concern in row["concerns"])] for row in rows)
    span = data["range"]
    return csv_response(request, ["class", course or "all-courses", str(span["from"]), "to",
                                  str(span["to"])], header, table)
