"""Roster pages: the classes a viewer may see (a teacher: their own; an admin: all), a class's
students with this week's figures, and the admin form that links an account to a teacher."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from timeledger.server import queries
from timeledger.server.dashboard.access import AccessError
from timeledger.server.dashboard.guard import (
    Denied,
    Viewer,
    access_of,
    platform_of,
    require_everyone_viewer,
    require_staff_viewer,
)
from timeledger.server.dashboard.rendering import render, secure
from timeledger.server.dashboard.signin import checked_form, forbidden_form
from timeledger.server.queries.class_view import week_start
from timeledger.server.queries.roster_classes import class_students, list_classes, roster_teachers
from timeledger.server.queries.roster_links import teacher_class_ids

T = TypeVar("T")
router = APIRouter(include_in_schema=False)
Staff = Annotated[Viewer, Depends(require_staff_viewer)]
Everyone = Annotated[Viewer, Depends(require_everyone_viewer)]


def _read(request: Request, query: Callable[[sa.Connection], T]) -> T:
    with platform_of(request).engine.connect() as conn:
        return query(conn)


def _today(request: Request) -> date:
    platform = platform_of(request)
    return platform.now().astimezone(ZoneInfo(platform.settings.timezone)).date()


def _visible_classes(conn: sa.Connection, viewer: Viewer) -> list[str] | None:
    """The classes the viewer may open: a teacher's own, else every class (None)."""
    return None if viewer.teacher is None else teacher_class_ids(conn, viewer.teacher)


@router.get("/classes")
def classes_page(request: Request, viewer: Staff) -> Response:
    classes = _read(request, lambda conn: list_classes(conn, _visible_classes(conn, viewer)))
    return render(request, viewer, "roster_classes.html", {"classes": classes})


@router.get("/classes/{class_id}")
def class_roster_page(request: Request, class_id: str, viewer: Staff) -> Response:
    today = _today(request)
    timezone = platform_of(request).settings.timezone

    def load(conn: sa.Connection) -> dict[str, Any] | None:
        visible = _visible_classes(conn, viewer)
        if visible is not None and class_id not in visible:
            raise Denied(403, "This class is not one of yours.")
        found = list_classes(conn, [class_id])
        if not found:
            return None
        students = class_students(conn, class_id)
        emails = {s["learner"] for s in students if s["learner"] and viewer.may_see_learner(
            s["learner"])}
        figures = {row["email"]: row for row in queries.class_view(
            conn, today, timezone, week_start(today), today, None, emails)["learners"]}
        return {"klass": found[0], "students": students, "figures": figures}

    context = _read(request, load)
    if context is None:
        return render(request, viewer, "denied.html", {
            "heading": "Not found", "message": "There is no such class here."}, status=404)
    return render(request, viewer, "roster_class.html", context)


@router.get("/admin/accounts")
def accounts_page(request: Request, viewer: Everyone) -> Response:
    accounts = access_of(request).accounts()
    teachers = _read(request, roster_teachers)
    return render(request, viewer, "accounts.html", {
        "accounts": accounts, "teachers": teachers,
        "teacher_names": {t["sourced_id"]: t["name"] for t in teachers}})


@router.post("/admin/accounts/teacher")
async def link_teacher(request: Request, viewer: Everyone) -> Response:
    """Link an account to a roster teacher (or unlink it: an empty teacher)."""
    form = await checked_form(request, viewer)
    if form is None:
        return forbidden_form(request, viewer)
    teacher = form.get("teacher", "").strip() or None
    try:
        await run_in_threadpool(access_of(request).link_teacher, form.get("username", ""),
                                teacher)
    except AccessError as exc:
        return render(request, viewer, "denied.html", {"heading": "Not saved",
                                                       "message": str(exc)}, status=400)
    return secure(RedirectResponse("/admin/accounts", status_code=303), request)
