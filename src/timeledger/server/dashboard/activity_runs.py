"""One learner's runs of one activity: where a cell of the course page's heatmap leads."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from timeledger.server import queries
from timeledger.server.dashboard.guard import (
    Viewer,
    platform_of,
    require_learner_access,
    require_viewer,
)
from timeledger.server.dashboard.rendering import render
from timeledger.server.queries.course_catalog import course_info, course_ref

router = APIRouter(include_in_schema=False)
MAX_RUNS = 200  # a learner's runs of one activity shown at most (newest first), said on the page
# The longest identifiers the page accepts (caliper's bounds for IRIs and course ids are lower).
MAX_ID_CHARS = 2048


@router.get("/activity-runs")
def activity_runs_page(
        request: Request, viewer: Annotated[Viewer, Depends(require_viewer)],
        learner: Annotated[str, Query(min_length=1, max_length=MAX_ID_CHARS)],
        course: Annotated[str, Query(min_length=1, max_length=MAX_ID_CHARS)],
        activity: Annotated[str, Query(min_length=1, max_length=MAX_ID_CHARS)]) -> Response:
    def load(conn: sa.Connection) -> dict[str, Any] | None:
        try:
            email = queries.resolve_learner(conn, learner)
        except queries.NotFound:
            require_learner_access(viewer, learner)  # a link never learns who else exists
            return None
        require_learner_access(viewer, email)
        found = queries.list_runs(conn, email, course, MAX_RUNS + 1, activity=activity)
        name = found[0]["activity"]["name"] if found else None
        return {"email": email, "runs": found[:MAX_RUNS], "more": len(found) > MAX_RUNS,
                "max_runs": MAX_RUNS, "course": course_ref(course_info(conn), course),
                "activity_id": activity, "activity_name": name or activity}

    with platform_of(request).engine.connect() as conn:
        context = load(conn)
    if context is None:
        return render(request, viewer, "denied.html", {
            "heading": "Not found", "message": "There is no such learner here."}, status=404)
    return render(request, viewer, "activity_runs.html", context)
