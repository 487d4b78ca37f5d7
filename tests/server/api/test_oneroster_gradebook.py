"""OneRoster gradebook v1p2 over HTTP: the projected gradebook with the official ids, filters,
paging, PUT/POST of written records (stored apart, kept by rebuild, shown in the dashboard's
gradebook), and 400s in OneRoster's shape that name the field."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from tests.support.platform import PlatformProcess, run_cli
from tests.support.roster_rows import add_rows
from tests.support.roster_rows import student as roster_student
from timeledger.caliper.builders import ActivityRef, Learner, completed_event, envelope
from timeledger.caliper.metrics import Metrics
from timeledger.server.store.database import create_engine
from timeledger.server.store.migrate import upgrade

SENSOR = "https://gradebook-app.example.com"
GRADEBOOK = "/ims/oneroster/gradebook/v1p2"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def official_line_item_id(object_id: str, course_sourced_id: str) -> str:
    """The rule as the official SDK states it (attempts.py), written out independently."""
    digest = hashlib.sha256(f"{object_id}_{course_sourced_id}".encode()).hexdigest()
    return f"caliper_{digest}"


def add_roster_user(platform: PlatformProcess, sourced_id: str, email: str) -> None:
    """A student in the platform's roster, written straight into its store."""
    add_rows(platform.database_url(), roster_student(sourced_id, email))


def activity(course_id: str, slug: str = "fractions-1") -> ActivityRef:
    return ActivityRef(url=f"{SENSOR}/activities/Math/g3/{slug}", name="Fractions 1",
                       subject="Math", app_name="Gradebook App", course_id=course_id,
                       course_name="Math G3")


def complete(platform: PlatformProcess, email: str, ref: ActivityRef, attempt: int,
             at: datetime, correct: int) -> None:
    event = completed_event(
        actor=Learner(email, None).actor(SENSOR), activity=ref, run_id=str(uuid.uuid4()),
        ended_at=at, attempt=attempt,
        metrics=Metrics(xp_earned=5, total_questions=4, correct_questions=correct))
    assert platform.send(envelope(SENSOR, [event], datetime.now(UTC))).status_code == 200


def client(platform: PlatformProcess, *scopes: str) -> httpx.Client:
    return httpx.Client(base_url=platform.base_url, timeout=30,
                        headers={"Authorization": f"Bearer {platform.token(scopes)}"})


def results_filter(line_item: str, student: str) -> str:
    return (f"status='active' AND assessmentLineItem.sourcedId='{line_item}' "
            f"AND student.sourcedId='{student}'")


@pytest.fixture
def course_id() -> str:
    return f"course-{uuid.uuid4().hex[:8]}"


def test_projected_line_item_and_results_carry_the_official_ids(platform: PlatformProcess,
                                                                  course_id: str) -> None:
    student = f"s-{uuid.uuid4().hex[:8]}"
    email = f"Ada.{student}@Example.edu"
    add_roster_user(platform, student, email)
    stranger = f"nobody-{uuid.uuid4().hex[:8]}@example.edu"  # in events, not in the roster
    ref = activity(course_id)
    complete(platform, email, ref, 1, T0, correct=1)
    complete(platform, email, ref, 2, T0 + timedelta(hours=1), correct=3)
    complete(platform, stranger, ref, 1, T0 + timedelta(hours=2), correct=4)
    item_id = official_line_item_id(ref.url, course_id)
    with client(platform, "roster:read") as http:
        items = http.get(f"{GRADEBOOK}/assessmentLineItems",
                         params={"filter": f"course.sourcedId='{course_id}'"})
        assert items.status_code == 200
        assert items.headers["X-Total-Count"] == "1"
        [item] = items.json()["assessmentLineItems"]
        assert item["sourcedId"] == item_id
        assert item["title"] == "Fractions 1"
        assert item["course"] == {"sourcedId": course_id}
        assert item["metadata"]["activityId"] == ref.url
        one = http.get(f"{GRADEBOOK}/assessmentLineItems/{item_id}").json()
        assert one == {"assessmentLineItem": item}

        reply = http.get(f"{GRADEBOOK}/assessmentResults",
                         params={"filter": results_filter(item_id, student), "limit": 100,
                                 "offset": 0})
        assert reply.status_code == 200
        results = reply.json()["assessmentResults"]
        assert sorted(r["metadata"]["attempt"] for r in results) == [1, 2]
        by_attempt = {r["metadata"]["attempt"]: r for r in results}
        assert by_attempt[1]["scoreDate"] == "2025-03-03T09:00:00.000Z"
        assert by_attempt[2]["scoreDate"] == "2025-03-03T10:00:00.000Z"
        assert by_attempt[1]["score"] == 25.0 and by_attempt[2]["score"] == 75.0
        assert {r["scoreStatus"] for r in results} == {"fully graded"}
        assert {r["student"]["sourcedId"] for r in results} == {student}
        assert {r["assessmentLineItem"]["sourcedId"] for r in results} == {item_id}
        assert reply.headers["X-Total-Count"] == "2"

        theirs = http.get(f"{GRADEBOOK}/assessmentResults", params={
            "filter": results_filter(item_id, stranger)}).json()["assessmentResults"]
        assert [r["score"] for r in theirs] == [100.0]  # no roster user: the e-mail names them
        first = http.get(f"{GRADEBOOK}/assessmentResults/{by_attempt[1]['sourcedId']}").json()
        assert first == {"assessmentResult": by_attempt[1]}


def test_paging_sorting_and_fields(platform: PlatformProcess, course_id: str) -> None:
    email = f"pager-{uuid.uuid4().hex[:8]}@example.edu"
    for n in range(5):
        complete(platform, email, activity(course_id, f"page-{n}"), 1,
                 T0 + timedelta(minutes=n), correct=n % 5)
    with client(platform, "roster:read") as http:
        params: dict[str, str | int] = {
            "filter": f"student.sourcedId='{email}'", "limit": 2, "offset": 2,
            "sort": "scoreDate", "orderBy": "desc", "fields": "sourcedId,scoreDate"}
        reply = http.get(f"{GRADEBOOK}/assessmentResults", params=params)
        assert reply.status_code == 200
        assert reply.headers["X-Total-Count"] == "5"
        page = reply.json()["assessmentResults"]
        assert [r["scoreDate"] for r in page] == ["2025-03-03T09:02:00.000Z",
                                                  "2025-03-03T09:01:00.000Z"]
        assert all(set(r) == {"sourcedId", "scoreDate"} for r in page)
        links = reply.headers["Link"]
        assert 'rel="next"' in links and 'rel="prev"' in links and "offset=4" in links


@pytest.mark.parametrize("bad", [
    "status='active' AND", "nosuchfield='x'", "score>'high'",
    "a='1' AND b='2' AND c='3' AND d='4'", "status='x' AND status='y' OR status='z'",
    "status='active'; DROP TABLE gradebook_results; --'", "' OR 1=1 --",
])
def test_a_bad_filter_is_a_400_in_oneroster_shape(platform: PlatformProcess, bad: str) -> None:
    with client(platform, "roster:read") as http:
        reply = http.get(f"{GRADEBOOK}/assessmentResults", params={"filter": bad})
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["imsx_codeMajor"] == "failure"
    assert "filter" in body["imsx_description"]
    minor = body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
    assert minor == "invalid_filter_field"


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


def _line_item(course_id: str, title: str = "Mastery") -> dict[str, Any]:
    return {"assessmentLineItem": {"status": "active", "title": title,
                                   "course": {"sourcedId": course_id},
                                   "resultValueMin": 0, "resultValueMax": 100,
                                   "metadata": {"appName": "Gradebook App"}}}


def _result(line_item: str, student: str, score: float, attempt: int = 1) -> dict[str, Any]:
    return {"assessmentResult": {
        "status": "active", "assessmentLineItem": {"sourcedId": line_item},
        "student": {"sourcedId": student}, "score": score,
        "scoreDate": "2025-03-04T12:00:00.123456+00:00", "scoreStatus": "fully graded",
        "metadata": {"attempt": attempt, "isMasteryCompletion": True}}}


def test_written_records_survive_rebuild_and_show_in_the_dashboard_gradebook(
        make_platform: Callable[..., PlatformProcess], course_id: str) -> None:
    platform = make_platform()
    student, email = "s-written", "Written.Student@example.edu"
    add_roster_user(platform, student, email)
    complete(platform, email.lower(), activity(course_id), 1, T0, correct=2)
    item_id, result_id = f"li-{uuid.uuid4().hex[:8]}", f"r-{uuid.uuid4().hex[:8]}"
    with client(platform, "gradebook:write", "roster:read") as http:
        created = http.put(f"{GRADEBOOK}/assessmentLineItems/{item_id}",
                           json=_line_item(course_id))
        assert created.status_code == 201, created.text
        assert created.json()["assessmentLineItem"]["title"] == "Mastery"
        first = http.put(f"{GRADEBOOK}/assessmentResults/{result_id}",
                         json=_result(item_id, student, 90))
        assert first.status_code == 201, first.text
        again = http.put(f"{GRADEBOOK}/assessmentResults/{result_id}",
                         json=_result(item_id, student, 100))
        assert again.status_code == 200
        stored = again.json()["assessmentResult"]
        assert stored["score"] == 100
        assert stored["scoreDate"] == "2025-03-04T12:00:00.123456+00:00"  # as written
        assert stored["metadata"] == {"attempt": 1, "isMasteryCompletion": True}
    platform.stop()
    run_cli("rebuild", *platform.db_args(), "--quiet")
    platform.start()
    with client(platform, "roster:read") as http:
        after = http.get(f"{GRADEBOOK}/assessmentResults/{result_id}")
        assert after.status_code == 200
        assert after.json()["assessmentResult"] == stored
        listed = http.get(f"{GRADEBOOK}/assessmentResults", params={
            "filter": f"student.sourcedId='{student}'"}).json()["assessmentResults"]
        assert {r["sourcedId"] for r in listed} >= {result_id}
        assert len(listed) == 2  # the written one and the projected completion, rebuilt
    book = platform.get("/api/v1/gradebook", learner=email.lower())
    written = [(item["activity_id"], r) for item in book["line_items"] for r in item["results"]
               if r["source"] == "written"]
    assert [(activity_id, r["score"], r["attempt"], r["sourced_id"])
            for activity_id, r in written] == [(item_id, 100.0, 1, result_id)]
    page = httpx.get(f"{platform.base_url}/learners/{quote(email.lower())}", timeout=30)
    assert page.status_code == 200  # a platform on loopback opens its dashboard
    table = page.text.split('id="results-table"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr data-result") == 2  # the completion and the written result
    assert "Mastery" in table


def test_post_creates_and_refuses_a_second_create(platform: PlatformProcess,
                                                  course_id: str) -> None:
    item_id = f"posted-{uuid.uuid4().hex[:8]}"
    body = _line_item(course_id)
    body["assessmentLineItem"]["sourcedId"] = item_id
    with client(platform, "gradebook:write", "roster:read") as http:
        made = http.post(f"{GRADEBOOK}/assessmentLineItems", json=body)
        assert made.status_code == 201
        assert made.json() == {"sourcedIdPairs": {"suppliedSourcedId": item_id,
                                                  "allocatedSourcedId": item_id}}
        assert http.get(f"{GRADEBOOK}/assessmentLineItems/{item_id}").status_code == 200
        assert http.post(f"{GRADEBOOK}/assessmentLineItems", json=body).status_code == 409


@pytest.mark.parametrize(("change", "field"), [
    (lambda r: r.pop("scoreStatus"), "assessmentResult.scoreStatus"),
    (lambda r: r.update(scoreStatus="done"), "assessmentResult.scoreStatus"),
    (lambda r: r.update(scoreDate="yesterday"), "assessmentResult.scoreDate"),
    (lambda r: r.update(scoreDate="2025-03-04T12:00:00"), "assessmentResult.scoreDate"),
    (lambda r: r.update(score="high"), "assessmentResult.score"),
    (lambda r: r.update(sourcedId="other"), "assessmentResult.sourcedId"),
    (lambda r: r.update(colour="red"), "assessmentResult.colour"),
    (lambda r: r.update(student={"sourcedId": "not-in-roster"}),
     "assessmentResult.student.sourcedId"),
    (lambda r: r.update(assessmentLineItem={"sourcedId": "no-such-item"}),
     "assessmentResult.assessmentLineItem.sourcedId"),
    (lambda r: r.update(metadata={"blob": "x" * 20_000}), "assessmentResult.metadata"),
    (lambda r: r.update(comment="a\x00b"), "assessmentResult.comment"),
    (lambda r: r.update(metadata={"k\x00": 1}), "assessmentResult.metadata.k"),
    (lambda r: r.update(metadata=nested(40)), "assessmentResult.metadata.a.a.a"),
])
def test_a_bad_result_is_a_400_naming_the_field_and_stores_nothing(
        platform: PlatformProcess, course_id: str, change: Callable[[dict[str, Any]], Any],
        field: str) -> None:
    student = f"s-{uuid.uuid4().hex[:8]}"
    add_roster_user(platform, student, f"{student}@example.edu")
    item_id, result_id = f"li-{uuid.uuid4().hex[:8]}", f"r-{uuid.uuid4().hex[:8]}"
    body = _result(item_id, student, 50)
    change(body["assessmentResult"])
    with client(platform, "gradebook:write", "roster:read") as http:
        assert http.put(f"{GRADEBOOK}/assessmentLineItems/{item_id}",
                        json=_line_item(course_id)).status_code == 201
        reply = http.put(f"{GRADEBOOK}/assessmentResults/{result_id}", json=body)
        assert reply.status_code == 400, reply.text
        assert f"Invalid {field}" in reply.json()["imsx_description"]
        assert http.get(f"{GRADEBOOK}/assessmentResults/{result_id}").status_code == 404


def test_bodies_past_the_bound_and_not_json(platform: PlatformProcess) -> None:
    with client(platform, "gradebook:write") as http:
        big = http.put(f"{GRADEBOOK}/assessmentResults/x", content=b"{" + b" " * 70_000 + b"}",
                       headers={"Content-Type": "application/json"})
        assert big.status_code == 413
        for raw in (b"not json", b"[]", b'{"assessmentResult": 3}'):
            reply = http.put(f"{GRADEBOOK}/assessmentResults/x", content=raw)
            assert reply.status_code == 400
            assert "Invalid body" in reply.json()["imsx_description"]


def test_scopes(platform: PlatformProcess, course_id: str) -> None:
    with client(platform, "reports:read") as http:
        assert http.get(f"{GRADEBOOK}/assessmentLineItems").status_code == 403
    with client(platform, "roster:read") as http:
        assert http.put(f"{GRADEBOOK}/assessmentLineItems/x",
                        json=_line_item(course_id)).status_code == 403
    assert httpx.get(f"{platform.base_url}{GRADEBOOK}/assessmentResults").status_code == 401


def test_unknown_ids_are_404_in_oneroster_shape(platform: PlatformProcess) -> None:
    with client(platform, "roster:read") as http:
        for path in ("assessmentLineItems", "assessmentResults"):
            reply = http.get(f"{GRADEBOOK}/{path}/caliper_{'0' * 64}")
            assert reply.status_code == 404
            minor = reply.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]
            assert minor["imsx_codeMinorFieldValue"] == "unknown_object"


def test_the_migration_fills_in_ids_of_rows_projected_before_it(tmp_path: Any) -> None:
    """Rows projected before revision 0010 get the same ids the pipeline now writes."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        upgrade(engine, "0009")
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO gradebook_line_items (course_id, activity_id, activity_name, "
                "subject, app_name, first_seen) VALUES ('c1', 'https://a.example/x', 'X', "
                "'Math', 'App', '2025-01-01 00:00:00.000000')"))
        upgrade(engine, "0010")  # later revisions (0017) clear the projections for a replay
        with engine.connect() as conn:
            found = conn.execute(sa.text("SELECT sourced_id FROM gradebook_line_items")).scalar()
        assert found == official_line_item_id("https://a.example/x", "c1")
    finally:
        engine.dispose()
