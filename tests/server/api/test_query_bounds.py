"""The gradebook and the learner summary are bounded: the gradebook a page of results at a time
(`limit`, `after`/`next`), its CSV downloads 100,000 results, the summary a window of days
(default the learner's last year, at most 366 days); past a bound a 400 names the parameter.
The other lists' pages: test_list_pages.py."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.server.api.test_oneroster_gradebook import _line_item, _result, add_roster_user
from tests.support.events import completion, heartbeat, unique_email, wrap
from tests.support.platform import PlatformProcess
from timeledger.caliper.builders import ActivityRef
from timeledger.server.queries import MAX_EXPORT_RESULTS, MAX_GRADEBOOK_PAGE, MAX_SUMMARY_DAYS
from timeledger.server.store.database import create_engine
from timeledger.server.store.projection_tables import gradebook_results

SENSOR = "https://bounds.example.com"
GRADEBOOK = "/ims/oneroster/gradebook/v1p2"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def course_activity(course_id: str, slug: str) -> ActivityRef:
    return ActivityRef(url=f"{SENSOR}/activities/{course_id}/{slug}", name=slug,
                       subject="Math", app_name="Bounds", course_id=course_id,
                       course_name="Bounds course")


def refused(platform: PlatformProcess, path: str, **params: Any) -> str:
    """The parameter a 400 reply names."""
    with platform.http() as client:
        reply = client.get(path, params=params)
    assert reply.status_code == 400, (params, reply.text)
    return str(reply.json()["imsx_error_details"][0]["path"])


def all_pages(platform: PlatformProcess, **params: Any) -> list[dict[str, Any]]:
    pages = [platform.get("/api/v1/gradebook", **params)]
    while pages[-1]["next"] is not None:
        assert len(pages) < 20, "the cursor does not move on"
        pages.append(platform.get("/api/v1/gradebook", **params, after=pages[-1]["next"]))
    return pages


def results_of(page: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    return [(r["learner"], item["activity_id"], r["source"], r["attempt"])
            for item in page["line_items"] for r in item["results"]]


@pytest.fixture
def course_book(platform: PlatformProcess) -> tuple[str, set[tuple[str, str, str, Any]]]:
    """A course with 6 projected results (two learners, two activities) and 2 written results
    on a written line item: the course id and every result as (learner, activity, source,
    attempt)."""
    course_id = f"bounds-{uuid.uuid4().hex[:8]}"
    ann, bo = unique_email("ann"), unique_email("bo")
    expected: set[tuple[str, str, str, Any]] = set()
    events = []
    for email, slug, attempts in ((ann, "quiz-a", 3), (bo, "quiz-b", 2), (bo, "quiz-a", 1)):
        ref = course_activity(course_id, slug)
        for attempt in range(1, attempts + 1):
            events.append(completion(email, str(uuid.uuid4()), T0 + timedelta(hours=attempt),
                                     5, 4, 3, ref=ref, attempt=attempt))
            expected.add((email, ref.url, "caliper", attempt))
    assert platform.send(wrap(*events)).status_code == 200
    student = f"s-{uuid.uuid4().hex[:8]}"
    add_roster_user(platform, student, ann)
    item_id = f"li-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=platform.base_url, timeout=30, headers={
            "Authorization": f"Bearer {platform.token(['gradebook:write'])}"}) as http:
        assert http.put(f"{GRADEBOOK}/assessmentLineItems/{item_id}",
                        json=_line_item(course_id)).status_code == 201
        for attempt in (1, 2):
            assert http.put(f"{GRADEBOOK}/assessmentResults/r-{uuid.uuid4().hex[:8]}",
                            json=_result(item_id, student, 80, attempt)).status_code == 201
            expected.add((ann, item_id, "written", attempt))
    return course_id, expected


@pytest.mark.parametrize("limit", [1, 2, 5, 7])
def test_gradebook_pages_list_every_result_once(
        platform: PlatformProcess, course_book: tuple[str, set[tuple[str, str, str, Any]]],
        limit: int) -> None:
    course_id, expected = course_book
    pages = all_pages(platform, course=course_id, limit=limit)
    listed = [result for page in pages for result in results_of(page)]
    assert sorted(listed, key=repr) == sorted(expected, key=repr)  # each once, none missed
    assert [len(results_of(page)) for page in pages[:-1]] == [limit] * (len(pages) - 1)
    assert len(pages) == -(-len(expected) // limit)
    sources = [source for _learner, _activity, source, _attempt in listed]
    assert sources == sorted(sources)  # projected results first ("caliper" < "written")
    for page in pages:  # each page's progress: the learners and course of its results
        assert {(p["learner"], p["course_id"]) for p in page["progress"]} == {
            (learner, course_id) for learner, _activity, _source, _attempt in results_of(page)}


def test_one_default_page_holds_a_small_gradebook(
        platform: PlatformProcess, course_book: tuple[str, set[tuple[str, str, str, Any]]]
) -> None:
    course_id, expected = course_book
    book = platform.get("/api/v1/gradebook", course=course_id)
    assert book["next"] is None
    assert set(results_of(book)) == expected
    assert len(book["line_items"]) == 3  # quiz-a, quiz-b and the written line item


def test_gradebook_limit_and_cursor_past_their_bounds_are_400s(platform: PlatformProcess) -> None:
    assert refused(platform, "/api/v1/gradebook", limit=MAX_GRADEBOOK_PAGE + 1) == "limit"
    assert refused(platform, "/api/v1/gradebook", limit=0) == "limit"
    assert refused(platform, "/api/v1/gradebook", after="not a cursor") == "after"
    assert refused(platform, "/api/v1/gradebook", after="A" * 5000) == "after"
    forged = base64.urlsafe_b64encode(b'["c","a@example.edu","c",1,"x"]').decode()
    assert refused(platform, "/api/v1/gradebook", after=forged) == "after"
    # The shape of a real cursor, with NUL in a text part (PostgreSQL text cannot hold NUL)
    holding_nul = base64.urlsafe_b64encode(b'["c","a@example.edu\\u0000","c","x",1]').decode()
    assert refused(platform, "/api/v1/gradebook", after=holding_nul) == "after"
    valid_shape = base64.urlsafe_b64encode(b'["c","a@example.edu","c","x",1]').decode()
    assert platform.get("/api/v1/gradebook", after=valid_shape)["next"] is None


def test_the_summary_defaults_to_the_last_year_and_refuses_a_longer_window(
        platform: PlatformProcess) -> None:
    email = unique_email("window")
    today = date.fromisoformat(platform.get("/api/v1/overview", days=1)["dates"][0])
    now = datetime.now(UTC).replace(microsecond=0)
    recent = max(now - timedelta(minutes=5), now.replace(hour=0, minute=0, second=0))
    old = datetime(today.year, today.month, today.day, 12, tzinfo=UTC) - timedelta(days=400)
    assert platform.send(wrap(heartbeat(email, str(uuid.uuid4()), recent, 60),
                              heartbeat(email, str(uuid.uuid4()), old, 120))).status_code == 200
    path = f"/api/v1/learners/{email}/summary"

    summary = platform.get(path)
    assert summary["range"] == {"from": (today - timedelta(days=MAX_SUMMARY_DAYS - 1)).isoformat(),
                                "to": today.isoformat()}
    assert [day["date"] for day in summary["days"]] == [recent.date().isoformat()]
    assert summary["totals"]["days_active"] == 1
    then = platform.get(path, **{"from": (old.date() - timedelta(days=1)).isoformat(),
                                 "to": (old.date() + timedelta(days=1)).isoformat()})
    assert [day["active_minutes"] for day in then["days"]] == [2.0]

    longest = {"from": (today - timedelta(days=MAX_SUMMARY_DAYS - 1)).isoformat(),
               "to": today.isoformat()}
    assert platform.get(path, **longest)["range"] == longest
    too_long = {"from": (today - timedelta(days=MAX_SUMMARY_DAYS)).isoformat(),
                "to": today.isoformat()}
    assert refused(platform, path, **too_long) == "to"
    assert refused(platform, path, **{"from": old.date().isoformat()}) == "to"
    assert refused(platform, path, to=(old.date() + timedelta(days=MAX_SUMMARY_DAYS)).isoformat(),
                   **{"from": old.date().isoformat()}) == "to"


def test_without_dates_the_summary_is_the_year_up_to_the_learners_last_active_day(
        platform: PlatformProcess) -> None:
    email = unique_email("lapsed")
    today = date.fromisoformat(platform.get("/api/v1/overview", days=1)["dates"][0])
    last = datetime(today.year, today.month, today.day, 12, tzinfo=UTC) - timedelta(days=500)
    before = last - timedelta(days=300)
    too_early = last - timedelta(days=MAX_SUMMARY_DAYS)  # one day before the window starts
    assert platform.send(wrap(*(heartbeat(email, str(uuid.uuid4()), moment, 60)
                                for moment in (last, before, too_early)))).status_code == 200

    summary = platform.get(f"/api/v1/learners/{email}/summary")
    assert summary["range"] == {
        "from": (last.date() - timedelta(days=MAX_SUMMARY_DAYS - 1)).isoformat(),
        "to": last.date().isoformat()}
    assert [day["date"] for day in summary["days"]] == [before.date().isoformat(),
                                                        last.date().isoformat()]


@pytest.mark.parametrize("with_course", [True, False])
def test_a_learners_pages_list_their_results_once(
        platform: PlatformProcess, course_book: tuple[str, set[tuple[str, str, str, Any]]],
        with_course: bool) -> None:
    course_id, expected = course_book
    (ann,) = {learner for learner, _activity, source, _attempt in expected if source == "written"}
    params = {"learner": ann, "limit": 2} | ({"course": course_id} if with_course else {})
    listed = [result for page in all_pages(platform, **params) for result in results_of(page)]
    assert sorted(listed, key=repr) == sorted(
        (result for result in expected if result[0] == ann), key=repr)


def test_gradebook_downloads_hold_at_most_the_bound_of_results(
        make_platform: Callable[..., PlatformProcess]) -> None:
    """The bound is crossed for real: one projected result, then bulk-written rows up to the
    bound (a download of all of them), then one more (a 400 naming the parameter)."""
    platform = make_platform()
    email, course_id = unique_email("bulk"), "bulk-course"
    ref = course_activity(course_id, "drill")
    assert platform.send(wrap(completion(email, str(uuid.uuid4()), T0, 5, 4, 3, ref=ref,
                                         attempt=1))).status_code == 200
    engine = create_engine(platform.database_url())
    try:
        with engine.begin() as conn:
            first = conn.execute(sa.select(gradebook_results)).one()._asdict()

            def write(attempts: range) -> None:
                conn.execute(gradebook_results.insert(), [
                    {**first, "attempt": attempt, "sourced_id": None,
                     "score_date": T0 + timedelta(seconds=attempt)} for attempt in attempts])

            write(range(2, MAX_EXPORT_RESULTS + 1))
        paths = {"learner": ("/export/gradebook.csv", email),
                 "course": ("/export/course-gradebook.csv", course_id)}
        with httpx.Client(base_url=platform.base_url, timeout=120) as client:
            reply = client.get("/export/course-gradebook.csv", params={"course": course_id})
            assert reply.status_code == 200, reply.text
            assert reply.text.count("\n") == 1 + MAX_EXPORT_RESULTS  # the header, then rows
            with engine.begin() as conn:
                write(range(MAX_EXPORT_RESULTS + 1, MAX_EXPORT_RESULTS + 2))
            for name, (path, value) in paths.items():
                reply = client.get(path, params={name: value})
                assert reply.status_code == 400, reply.text[:200]
                assert f"{name}: a gradebook download holds at most 100,000 results" in reply.text
    finally:
        engine.dispose()
