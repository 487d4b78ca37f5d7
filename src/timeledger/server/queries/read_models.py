"""The shapes the queries return, as pydantic models: the query API's typed responses.

The query functions build plain dicts (the dashboard reads them as such); the API declares these
models as its `response_model`, so `/openapi.json` shows every field and a dict that drifts from
its model (a field missing, renamed or extra) fails loudly in the tests instead of in a client.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Number = int | float
"""XP and goals: whole numbers stay integers in JSON, fractions are floats."""


class ReadModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectedThrough(ReadModel):
    """How far projection had got when the answer was read: the last applied event."""

    seq: int
    event_time: str | None
    caught_up: bool | None = None  # False: the log holds events not yet projected


class Projected(ReadModel):
    """A top-level response, which may say how far projection had got."""

    projected_through: ProjectedThrough | None = None


class SumFigures(ReadModel):
    """Learner-day sums in the API's units (a day, a date range, a course)."""

    active_minutes: float
    inactive_minutes: float
    xp: Number
    completions: int
    total_questions: int
    correct_questions: int
    accuracy: float | None = Field(description="Percent correct, None without questions")
    mastered_units: int


class LearnerTotals(SumFigures):
    days_active: int


class ListedLearnerTotals(LearnerTotals):
    runs: int
    flags: int


class LearnerIdentity(ReadModel):
    email: str
    name: str | None
    actor_ids: list[str]
    first_seen: str | None
    last_seen: str | None


class ListedLearner(LearnerIdentity):
    totals: ListedLearnerTotals


class LearnerList(Projected):
    learners: list[ListedLearner]
    next: str | None = Field(
        description="The cursor of the following page (pass it as `after`); None on the last")


class DateRange(ReadModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    date_from: dt.date | None = Field(alias="from")
    date_to: dt.date | None = Field(alias="to")


class LearnerDay(SumFigures):
    date: dt.date
    courses: list[str]
    goals_met: dict[str, dict[str, bool | None]] = Field(
        description="Per course id, per goal: met, or None when the day has no value for it")


class LearnerSummary(Projected):
    learner: LearnerIdentity
    range: DateRange
    course: str | None
    totals: LearnerTotals
    days: list[LearnerDay]


class Review(ReadModel):
    """The latest acknowledgement or resolution of a flag or concern."""

    status: Literal["acknowledged", "resolved"]
    note: str
    by: str
    at: str | None


class Flag(ReadModel):
    key: str
    kind: str
    category: Literal["learning", "integration"] = Field(
        description="learning: for teachers and the learner; integration: how an app reports, "
                    "for the operator")
    run_id: str | None
    learner: str
    course_id: str | None
    event_ids: list[str]
    reason: str
    occurrences: int
    event_time: str | None
    seq: int | None
    review: Review | None


class FlagList(Projected):
    flags: list[Flag]
    next: str | None = Field(
        description="The cursor of the following page (pass it as `after`); None on the last")


class RunLearner(ReadModel):
    email: str
    name: str | None
    actor_id: str


class ActivityRef(ReadModel):
    id: str
    name: str | None


class CourseRef(ReadModel):
    id: str
    name: str


class RunCompletion(ReadModel):
    event_id: str
    time: str | None
    attempt: int | None
    xp: Number
    total_questions: int | None
    correct_questions: int | None
    accuracy: float | None
    mastered_units: int | None
    pct_complete: float | None


class RunSummary(ReadModel):
    run_id: str
    run_key: str | None = Field(
        description="The app's own runId when it was not a UUID (extensions.runKey); run_id is "
                    "then its UUIDv5. The run is found by either.")
    learner: RunLearner
    activity: ActivityRef
    course: CourseRef
    subject: str
    app_name: str
    first_seen: str
    last_seen: str
    active_seconds: float
    inactive_seconds: float
    other_seconds: float
    active_minutes: float
    heartbeats: int
    sessions: int
    completed: bool
    completions: int
    completion: RunCompletion | None
    xp_earned: Number


class RunList(Projected):
    runs: list[RunSummary]
    next: str | None = Field(
        description="The cursor of the following page (pass it as `after`); None on the last")


class SessionDay(ReadModel):
    date: dt.date
    active_seconds: float
    inactive_seconds: float


class RunWindow(ReadModel):
    event_id: str
    start: str | None
    end: str | None
    active_seconds: float
    inactive_seconds: float
    other_seconds: float
    bounds: Literal["reported", "estimated"]
    overlaps_event_id: str | None


class RunDetail(RunSummary, Projected):
    session_days: list[SessionDay] = Field(description="The first page of GET .../session-days")
    session_days_next: str | None = Field(
        description="Its cursor: pass it as `after` to GET .../session-days; None when all are "
                    "here")
    windows: list[RunWindow] = Field(description="The first page of GET .../windows")
    windows_next: str | None = Field(
        description="Its cursor: pass it as `after` to GET .../windows; None when all are here")
    flags: list[Flag] = Field(description="The first page of GET .../flags")
    flags_next: str | None = Field(
        description="Its cursor: pass it as `after` to GET .../flags; None when all are here")


class RunWindowList(Projected):
    windows: list[RunWindow]
    next: str | None = Field(
        description="The cursor of the following page (pass it as `after`); None on the last")


class SessionDayList(Projected):
    session_days: list[SessionDay]
    next: str | None = Field(
        description="The cursor of the following page (pass it as `after`); None on the last")


class GradeResult(ReadModel):
    learner: str
    attempt: int | None  # None: a written result that gave no metadata.attempt
    score: float | None
    total_questions: int | None
    correct_questions: int | None
    xp: Number
    mastered_units: int | None
    pct_complete: float | None
    score_date: str | None
    event_id: str | None  # None for a written result
    run_id: str | None
    source: Literal["caliper", "written"]  # projected from a completion, or written (OneRoster)
    sourced_id: str | None  # its OneRoster sourcedId


class LineItem(ReadModel):
    course_id: str
    course_name: str
    activity_id: str
    activity_name: str | None
    subject: str
    app_name: str
    results: list[GradeResult]
    mean_score: float | None


class CourseProgressEntry(ReadModel):
    learner: str
    course_id: str
    course_name: str
    progress: float | None
    source: Literal["pctCompleteApp", "masteredUnits"] | None
    pct_complete: float | None
    mastered_units: int
    total_lessons: int | None
    completions: int
    xp: Number


class Gradebook(Projected):
    line_items: list[LineItem]
    progress: list[CourseProgressEntry]
    next: str | None = Field(
        description="The cursor of the following page (pass it as `after`); None on the last")


class CourseProgress(ReadModel):
    learners: int
    average: float | None


class Course(SumFigures):
    course_id: str
    name: str
    subject: str
    grade: int | None
    course_code: str | None
    app_name: str
    registered: bool
    goals: dict[str, Number]
    total_lessons: int | None
    total_xp: Number | None
    learners: int
    progress: CourseProgress


class CourseList(Projected):
    courses: list[Course]
    next: str | None = Field(
        description="The cursor of the following page (pass it as `after`); None on the last")


class CourseDetail(Course, Projected):
    pass


class OverviewSeries(ReadModel):
    active_learners: list[int]
    active_minutes: list[float]
    xp: list[Number]
    completions: list[int]
    accuracy: list[float | None]
    flags: list[int]


class OverviewFigures(ReadModel):
    active_learners: int
    active_minutes: float
    xp: Number
    completions: int
    accuracy: float | None
    flags: int


class Overview(Projected):
    dates: list[dt.date]
    series: OverviewSeries
    today: OverviewFigures
    window: OverviewFigures
    recent_flags: list[Flag]


GoalStatus = Literal["met", "close", "missed"]


class ClassPeriod(ReadModel):
    """Active minutes and XP over a period against the learner's goals for it (daily goals
    times the period's school days up to today); a status is None without a goal."""

    active_minutes: float
    xp: Number
    active_minutes_goal: float | None
    xp_goal: float | None
    active_minutes_status: GoalStatus | None
    xp_status: GoalStatus | None


class Concern(ReadModel):
    """A learning concern worked out when read; `key` stays the same while it lasts."""

    kind: Literal["behind_goal", "inactive", "accuracy_falling"]
    key: str
    since: dt.date | None = Field(description="behind_goal: the first missed day; inactive: "
                                  "the last active day")
    days: int | None = Field(description="School days behind goal, or without activity")
    accuracies: list[float] | None = Field(
        description="accuracy_falling: the last five completions' accuracy, oldest first")
    review: Review | None


class ClassRow(ReadModel):
    email: str
    name: str | None
    courses: list[str]
    today: ClassPeriod
    range: ClassPeriod
    accuracy: float | None = Field(description="Percent correct over the range's questions")
    last_active: str | None
    concerns: list[Concern]
    needs_attention: bool = Field(description="A concern not resolved")


class ClassView(Projected):
    today: dt.date
    range: DateRange
    course: str | None
    school_days: int
    learners: list[ClassRow]
    next: str | None = Field(
        description="The cursor of the following page (pass it as `after`); None on the last")


class UserVerification(ReadModel):
    """Whether a user has the e-mail (`GET /api/v1/users/verify`)."""

    verified: bool
    timebackId: str | None = Field(default=None, description="The user's id, when verified")


class UserSchool(ReadModel):
    id: str
    name: str


class UserCourse(ReadModel):
    id: str
    code: str
    name: str


class UserXp(ReadModel):
    today: Number
    all: Number


class UserProfile(ReadModel):
    """A user's profile (`GET /api/v1/users/profile`), as the adapter's `/user/me` answers it."""

    id: str
    email: str
    name: str | None
    school: UserSchool | None
    grade: int | None
    courses: list[UserCourse]
    goals: dict[str, Number]
    xp: UserXp
