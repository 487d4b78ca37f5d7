"""CSV downloads (a learner's days, the gradebook) against the query API, their file names, bad
input, who may download what; share links listed and revoked in the dashboard."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.server.dashboard.conftest import LEARNERS, csrf_of, share_link, signed_in
from tests.support.browser import browser  # noqa: F401 (fixture)
from tests.support.platform import PlatformProcess
from timeledger.server.dashboard.exports import _cell


def _csv(reply: httpx.Response) -> list[dict[str, str]]:
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "text/csv; charset=utf-8"
    assert reply.text.startswith("\ufeff")  # spreadsheets read it as UTF-8
    return list(csv.DictReader(io.StringIO(reply.text.removeprefix("\ufeff"))))


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


def _busiest(demo: PlatformProcess) -> str:
    learners = demo.get("/api/v1/learners")["learners"]
    return str(max(learners, key=lambda row: (row["totals"]["runs"], row["email"]))["email"])


def test_a_learners_days_are_the_api_summary(demo: PlatformProcess) -> None:
    email = _busiest(demo)
    summary = demo.get(f"/api/v1/learners/{quote(email)}/summary")
    first, last = summary["days"][0]["date"], summary["days"][-1]["date"]
    with httpx.Client(base_url=demo.base_url, timeout=30) as client:
        reply = client.get("/export/learner-days.csv",
                           params={"learner": email, "from": first, "to": last})
    rows = _csv(reply)
    assert reply.headers["content-disposition"] == (
        f'attachment; filename="days-{email}-{first}-to-{last}.csv"')
    assert [row["date"] for row in rows] == [day["date"] for day in summary["days"]]
    for row, day in zip(rows, summary["days"], strict=True):
        for field in ("active_minutes", "inactive_minutes", "xp", "completions",
                      "total_questions", "correct_questions"):
            assert _number(row[field]) == pytest.approx(day[field]), (day["date"], field)
        assert _number(row["accuracy_percent"]) == day["accuracy"]
        assert row["courses"].split("; ") == day["courses"]
    # One course only: the same days' figures for that course.
    course = summary["days"][-1]["courses"][0]
    by_course = demo.get(f"/api/v1/learners/{quote(email)}/summary",
                         **{"from": first, "to": last, "course": course})
    with httpx.Client(base_url=demo.base_url, timeout=30) as client:
        rows = _csv(client.get("/export/learner-days.csv", params={
            "learner": email, "from": first, "to": last, "course": course}))
    assert [_number(row["xp"]) for row in rows] == [day["xp"] for day in by_course["days"]]


def test_the_gradebook_of_a_learner_and_of_a_course(demo: PlatformProcess) -> None:
    email = _busiest(demo)
    with httpx.Client(base_url=demo.base_url, timeout=30) as client:
        mine = _csv(client.get("/export/gradebook.csv", params={"learner": email}))
        course = mine[0]["course_id"]
        reply = client.get("/export/course-gradebook.csv", params={"course": course})
        theirs = _csv(reply)
    expected = [(item["activity_id"], result["learner"], result["attempt"], result["score"])
                for item in demo.get("/api/v1/gradebook", learner=email)["line_items"]
                for result in item["results"]]
    assert [(row["activity_id"], row["learner"], int(row["attempt"]),
             _number(row["score_percent"])) for row in mine] == expected
    book = demo.get("/api/v1/gradebook", course=course)["line_items"]
    assert len(theirs) == sum(len(item["results"]) for item in book) > len(
        [row for row in mine if row["course_id"] == course])
    assert {row["course_id"] for row in theirs} == {course}
    assert reply.headers["content-disposition"].startswith(
        f'attachment; filename="gradebook-{course.replace(" ", "_")}-')


def test_bad_ranges_and_unknown_learners_are_refused(demo: PlatformProcess) -> None:
    email = _busiest(demo)
    with httpx.Client(base_url=demo.base_url, timeout=30) as client:
        backwards = client.get("/export/learner-days.csv", params={
            "learner": email, "from": "2026-02-02", "to": "2026-02-01"})
        too_long = client.get("/export/learner-days.csv", params={
            "learner": email, "from": "2020-01-01", "to": "2026-01-01"})
        not_a_day = client.get("/export/learner-days.csv", params={
            "learner": email, "from": "yesterday"})
        nobody = client.get("/export/learner-days.csv", params={"learner": "no@one.example"})
        no_course = client.get("/export/course-gradebook.csv", params={"course": "Nope 9"})
    assert backwards.status_code == 400 and "from" in backwards.text
    assert too_long.status_code == 400 and "366" in too_long.text
    assert not_a_day.status_code == 400 and "from" in not_a_day.text
    assert nobody.status_code == 404
    assert no_course.status_code == 404


@pytest.mark.unit
def test_a_cell_a_spreadsheet_would_run_is_defused() -> None:
    assert _cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert _cell("@SUM(A1)") == "'@SUM(A1)"
    assert _cell("-2+3") == "'-2+3"
    assert _cell(-2.5) == -2.5  # numbers stay numbers
    assert _cell("Ada") == "Ada"
    assert _cell(None) == ""


def test_downloads_follow_the_pages_access_rules(
        locked: PlatformProcess, locked_runs: dict[str, str]) -> None:
    with httpx.Client(base_url=locked.base_url, timeout=30) as anonymous:
        assert anonymous.get("/export/learner-days.csv",
                             params={"learner": LEARNERS[0]}).status_code == 401
    with httpx.Client(base_url=locked.base_url, timeout=30, follow_redirects=True) as student:
        assert student.get(share_link(locked, LEARNERS[1])).status_code == 200
        own = student.get("/export/learner-days.csv", params={"learner": LEARNERS[1]})
        # their own days, as the API has them (one, or two when the seeded run crossed midnight)
        days = locked.get(f"/api/v1/learners/{quote(LEARNERS[1])}/summary")["days"]
        assert own.status_code == 200
        assert [row["date"] for row in _csv(own)] == [day["date"] for day in days]
        assert 1 <= len(days) <= 2
        other = student.get("/export/gradebook.csv", params={"learner": LEARNERS[0]})
        assert other.status_code == 403 and LEARNERS[0] not in other.text
        course = student.get("/export/course-gradebook.csv", params={"course": "Math G3"})
        assert course.status_code == 403


def test_share_links_are_listed_and_revoked_in_the_dashboard(
        locked: PlatformProcess, locked_runs: dict[str, str]) -> None:
    with signed_in(locked) as admin:
        page = admin.get(f"/learners/{quote(LEARNERS[0])}")
        made = admin.post(f"/learners/{quote(LEARNERS[0])}/share",
                          data={"csrf_token": csrf_of(page.text)})
        assert made.status_code == 200
        assert 'data-copy="share-url"' in made.text
        url = made.text.split('id="share-url" readonly value="')[1].split('"')[0]
        listing = admin.get("/share-links")
        assert listing.status_code == 200
        rows = listing.text.split('<tr data-link="')[1:]
        live = [row for row in rows if 'data-state="live"' in row and LEARNERS[0] in row]
        assert live, "the new link is listed as live"
        link_id = live[0].split('"')[0]
        # Without the session's CSRF token nothing is revoked.
        refused = admin.post(f"/share-links/{link_id}/revoke", data={"csrf_token": "forged"})
        assert refused.status_code == 403
        with httpx.Client(timeout=30) as student:
            assert student.get(url).status_code in (200, 303)
        done = admin.post(f"/share-links/{link_id}/revoke",
                          data={"csrf_token": csrf_of(listing.text)})
        assert done.status_code == 303
        after = admin.get(done.headers["location"])
        assert f'<tr data-link="{link_id}" data-state="revoked"' in after.text
        assert "is revoked" in after.text
    with httpx.Client(timeout=30) as student:
        assert student.get(url).status_code >= 400  # the link no longer opens


def test_the_learner_page_links_its_downloads_and_prints_as_a_report(
        browser: Any, demo: PlatformProcess) -> None:  # noqa: F811
    email = _busiest(demo)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{demo.base_url}/learners/{quote(email)}")
        with page.expect_download() as download:
            page.click("#days-csv")
        assert download.value.suggested_filename.startswith(f"days-{email}-")
        assert page.locator("#print-report").is_visible()
        page.emulate_media(media="print")
        assert not page.locator(".topbar").is_visible()
        assert not page.locator(".page-actions").is_visible()
        assert page.locator("#learner-name").is_visible()
        assert page.locator("[data-chart] svg").first.is_visible()
    finally:
        page.close()


def test_the_class_view_as_csv_is_the_class_api(demo: PlatformProcess) -> None:
    course = "Math G4"
    api = demo.get("/api/v1/class", course=course, **{"from": "2026-01-05"})
    span = api["range"]
    with httpx.Client(base_url=demo.base_url, timeout=30) as client:
        page = client.get("/", params={"course": course, "range": "custom",
                                       "from": span["from"], "to": span["to"]})
        link = page.text.split('id="class-csv" download href="')[1].split('"')[0]
        reply = client.get(link.replace("&amp;", "&"))
    rows = _csv(reply)
    assert reply.headers["content-disposition"] == (
        f'attachment; filename="class-Math_G4-{span["from"]}-to-{span["to"]}.csv"')
    by_email = {row["email"]: row for row in rows}
    assert set(by_email) == {learner["email"] for learner in api["learners"]}
    assert len(rows) > 5
    for learner in api["learners"]:
        row = by_email[learner["email"]]
        for period in ("today", "range"):
            for name in ("active_minutes", "xp"):
                assert _number(row[f"{period}_{name}"]) == pytest.approx(
                    learner[period][name]), (learner["email"], period, name)
            assert row[f"{period}_xp_status"] == (learner[period]["xp_status"] or "")
        assert _number(row["accuracy_percent"]) == learner["accuracy"]
        shown = row["concerns"].split("; ") if row["concerns"] else []
        assert shown == [concern["kind"] for concern in learner["concerns"]], learner["email"]
