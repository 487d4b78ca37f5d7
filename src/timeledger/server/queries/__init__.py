"""Read models over the projections: plain functions of a Connection returning plain dicts.

The query API and the dashboard call these same functions, so every figure agrees.
"""

from __future__ import annotations

from timeledger.server.queries.class_view import MAX_CLASS_PAGE, class_view
from timeledger.server.queries.course_activities import course_activities
from timeledger.server.queries.course_grid import course_grid
from timeledger.server.queries.courses import (
    MAX_COURSES_PAGE,
    courses_page,
    get_course,
    list_courses,
)
from timeledger.server.queries.date_parameters import check_range
from timeledger.server.queries.errors import InvalidParameter, NotFound, QueryError
from timeledger.server.queries.flags import (
    MAX_FLAGS,
    check_category,
    check_kind,
    flags_page,
    list_flags,
)
from timeledger.server.queries.gradebook import (
    MAX_EXPORT_RESULTS,
    MAX_GRADEBOOK_PAGE,
    course_progress,
    gradebook,
    gradebook_page,
)
from timeledger.server.queries.gradebook_cursor import MAX_CURSOR_CHARS, decode_cursor
from timeledger.server.queries.learners import (
    LEARNER_SORTS,
    MAX_LEARNERS_PAGE,
    last_active_day,
    learner_courses,
    learner_names,
    learner_summary,
    learners_page,
    list_learners,
    listed_learners,
    resolve_learner,
)
from timeledger.server.queries.overview import overview
from timeledger.server.queries.run_lists import (
    DEFAULT_RUN_DAYS,
    DEFAULT_RUN_FLAGS,
    DEFAULT_RUN_WINDOWS,
    MAX_RUN_DAYS,
    MAX_RUN_FLAGS,
    MAX_RUN_WINDOWS,
    run_days_page,
    run_flags_page,
    run_windows_page,
)
from timeledger.server.queries.runs import (
    DEFAULT_RUNS_PAGE,
    MAX_RUNS_PAGE,
    get_run,
    known_run,
    list_runs,
    normalize_run_id,
    resolve_run_id,
    runs_page,
)
from timeledger.server.queries.summary_window import (
    DEFAULT_SUMMARY_DAYS,
    MAX_SUMMARY_DAYS,
    summary_window,
)

__all__ = [
    "DEFAULT_RUNS_PAGE",
    "DEFAULT_RUN_DAYS",
    "DEFAULT_RUN_FLAGS",
    "DEFAULT_RUN_WINDOWS",
    "DEFAULT_SUMMARY_DAYS",
    "LEARNER_SORTS",
    "MAX_CLASS_PAGE",
    "MAX_COURSES_PAGE",
    "MAX_CURSOR_CHARS",
    "MAX_EXPORT_RESULTS",
    "MAX_FLAGS",
    "MAX_GRADEBOOK_PAGE",
    "MAX_LEARNERS_PAGE",
    "MAX_RUNS_PAGE",
    "MAX_RUN_DAYS",
    "MAX_RUN_FLAGS",
    "MAX_RUN_WINDOWS",
    "MAX_SUMMARY_DAYS",
    "InvalidParameter",
    "NotFound",
    "QueryError",
    "check_category",
    "check_kind",
    "check_range",
    "class_view",
    "course_activities",
    "course_grid",
    "course_progress",
    "courses_page",
    "decode_cursor",
    "flags_page",
    "get_course",
    "get_run",
    "gradebook",
    "gradebook_page",
    "known_run",
    "last_active_day",
    "learner_courses",
    "learner_names",
    "learner_summary",
    "learners_page",
    "list_courses",
    "list_flags",
    "list_learners",
    "list_runs",
    "listed_learners",
    "normalize_run_id",
    "overview",
    "resolve_learner",
    "resolve_run_id",
    "run_days_page",
    "run_flags_page",
    "run_windows_page",
    "runs_page",
    "summary_window",
]
