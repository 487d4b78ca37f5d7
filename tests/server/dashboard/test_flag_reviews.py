"""Acknowledging and resolving flags: a CSRF-checked form, stored with who and when, shown on the
pages and in the API; integration faults never reach a learner's shared page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from tests.server.dashboard.conftest import SENSOR, csrf_of, share_link, signed_in
from tests.support.platform import PlatformProcess
from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    completed_event,
    envelope,
    time_spent_event,
)
from timeledger.caliper.metrics import Metrics


def _flagged_learner(platform: PlatformProcess) -> tuple[str, dict[str, str]]:
    """A learner with a learning flag (XP at 4/10 correct) and an integration fault (time after
    the completion on the same run). Returns the email and {category: flag key}."""
    email = f"flagged-{uuid.uuid4().hex[:8]}@school.example"
    actor = Learner(email=email).actor("https://sis.example")
    activity = ActivityRef(url=f"{SENSOR}/activities/Math/g3/review", name="Review",
                           subject="Math", app_name="Test app", course_id="Math G3",
                           course_name="Math G3")
    run_id = str(uuid.uuid4())
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    events: list[dict[str, Any]] = [
        time_spent_event(actor=actor, activity=activity, run_id=run_id, started_at=start,
                         ended_at=start + timedelta(minutes=5), active_ms=300_000,
                         inactive_ms=0),
        completed_event(actor=actor, activity=activity, run_id=run_id,
                        ended_at=start + timedelta(minutes=5),
                        metrics=Metrics(xp_earned=3, total_questions=10, correct_questions=4)),
        time_spent_event(actor=actor, activity=activity, run_id=run_id,
                         started_at=start + timedelta(minutes=10),
                         ended_at=start + timedelta(minutes=11), active_ms=60_000,
                         inactive_ms=0),
    ]
    assert platform.send(envelope(SENSOR, events, start), projected=True).status_code == 200
    flags = platform.get("/api/v1/flags", learner=email)["flags"]
    keys = {flag["category"]: flag["key"] for flag in flags}
    assert set(keys) == {"learning", "integration"}, flags
    return email, keys


def _review(client: httpx.Client, token: str, key: str, status: str, note: str,
            **headers: str) -> httpx.Response:
    return client.post("/flags/review", data={"csrf_token": token, "flag": key,
                                              "status": status, "note": note,
                                              "next": "/integration"}, headers=headers)


def test_a_flag_is_acknowledged_then_resolved_with_a_note(locked: PlatformProcess) -> None:
    email, keys = _flagged_learner(locked)
    fault = keys["integration"]
    with signed_in(locked) as admin:
        page = admin.get("/integration")
        assert fault in page.text
        token = csrf_of(page.text)
        # Each list offers the form for its own flags, back to the page it is on.
        for path, key in (("/integration", fault), ("/flags", keys["learning"])):
            offered = admin.get(path).text.split(f'<li data-flag="{key}"', 1)[1].split("</li>")[0]
            assert '<form method="post" action="/flags/review"' in offered, path
            assert f'name="flag" value="{key}"' in offered, path
            assert f'name="next" value="{path}"' in offered, path
        # refused: no token, a forged origin, an unknown status, a note past its bound
        assert _review(admin, "", fault, "resolved", "x").status_code == 403
        assert _review(admin, token, fault, "resolved", "x",
                       Origin="https://evil.example").status_code == 403
        bad = _review(admin, token, fault, "ignored", "x")
        assert bad.status_code == 400 and "status" in bad.text
        long = _review(admin, token, fault, "resolved", "n" * 2001)
        assert long.status_code == 400 and "note" in long.text
        nul = _review(admin, token, fault, "resolved", "a\x00b")  # PostgreSQL cannot store it
        assert nul.status_code == 400 and "note: Must not contain a NUL character" in nul.text
        assert _review(admin, token, "no_such_kind:nothing", "resolved", "").status_code == 404
        assert locked.get("/api/v1/flags", learner=email, category="integration")[
            "flags"][0]["review"] is None
        done = _review(admin, token, fault, "acknowledged", "Asked the app team")
        assert done.status_code == 303 and done.headers["location"] == "/integration"
        done = _review(admin, token, fault, "resolved", "Fixed in release 2.1 <b>")
        assert done.status_code == 303
        (flag,) = locked.get("/api/v1/flags", learner=email, category="integration")["flags"]
        review = flag["review"]
        assert (review["status"], review["note"], review["by"]) == (
            "resolved", "Fixed in release 2.1 <b>", "teacher")
        assert abs(datetime.fromisoformat(review["at"].replace("Z", "+00:00"))
                   - datetime.now(UTC)) < timedelta(minutes=5)
        shown = admin.get("/integration").text
        assert "Resolved</strong> by teacher" in shown
        assert "Fixed in release 2.1 &lt;b&gt;" in shown
        learning = locked.get("/api/v1/flags", learner=email, category="learning")["flags"]
        assert learning[0]["review"] is None  # a review belongs to its own flag


def test_a_learners_shared_page_shows_learning_flags_and_never_integration_faults(
        locked: PlatformProcess) -> None:
    email, keys = _flagged_learner(locked)
    with httpx.Client(follow_redirects=True, timeout=30) as student:
        page = student.get(share_link(locked, email))
        assert page.status_code == 200
        assert page.url.path == f"/learners/{email}"
        assert keys["learning"] in page.text
        assert keys["integration"] not in page.text
        assert "integration fault" not in page.text
        assert student.get(f"{locked.base_url}/integration").status_code == 403
        assert student.get(f"{locked.base_url}/").status_code == 403
    with signed_in(locked) as admin:
        staff_view = admin.get(f"/learners/{quote(email)}").text
        assert keys["integration"] not in staff_view
        assert "1 integration fault" in staff_view


def _quiz_results(platform: PlatformProcess, email: str, corrects: list[int],
                  end: datetime | None = None) -> datetime:
    """One run per count of correct answers (of 10), ten minutes apart, the last at `end` (by
    default an hour ago); no XP, so only the falling accuracy can raise a concern. Returns `end`:
    a later call must pass a later one, since completions at the same second are ordered by
    their (random) event ids."""
    actor = Learner(email=email).actor("https://sis.example")
    activity = ActivityRef(url=f"{SENSOR}/activities/Math/g3/quiz", name="Quiz", subject="Math",
                           app_name="Test app", course_id="Math G3", course_name="Math G3")
    end = end or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    events: list[dict[str, Any]] = []
    for index, correct in enumerate(corrects):
        at = end - timedelta(minutes=10 * (len(corrects) - 1 - index))
        run_id = str(uuid.uuid4())
        events += [
            time_spent_event(actor=actor, activity=activity, run_id=run_id,
                             started_at=at - timedelta(minutes=5), ended_at=at,
                             active_ms=300_000, inactive_ms=0),
            completed_event(actor=actor, activity=activity, run_id=run_id, ended_at=at,
                            metrics=Metrics(xp_earned=0, total_questions=10,
                                            correct_questions=correct))]
    assert platform.send(envelope(SENSOR, events, end), projected=True).status_code == 200
    return end


def _class_row(platform: PlatformProcess, email: str) -> dict[str, Any]:
    [row] = platform.get("/api/v1/class", learner=email)["learners"]
    return dict(row)


def test_a_concern_is_resolved_until_a_new_episode_begins(locked: PlatformProcess) -> None:
    """A learning concern (accuracy falling over the last five completions) is reviewed like a
    flag: once resolved the learner no longer needs attention, and a newer completion that keeps
    it falling is a new episode that needs attention again."""
    email = f"falling-{uuid.uuid4().hex[:8]}@school.example"
    last = _quiz_results(locked, email, [10, 9, 8, 7, 6])
    row = _class_row(locked, email)
    [concern] = row["concerns"]
    assert (concern["kind"], concern["review"], row["needs_attention"]) == (
        "accuracy_falling", None, True)
    key = concern["key"]
    with signed_in(locked) as admin:
        page = admin.get("/flags").text
        offered = page.split(f'data-flag="{key}"', 1)[1].split("</li>")[0]
        assert f'name="flag" value="{key}"' in offered and 'name="next" value="/flags"' in offered
        done = _review(admin, csrf_of(page), key, "resolved", "Talked it through")
        assert done.status_code == 303
        row = _class_row(locked, email)
        review = row["concerns"][0]["review"]
        assert (review["status"], review["note"], review["by"]) == (
            "resolved", "Talked it through", "teacher")
        assert row["needs_attention"] is False
        shown = admin.get("/flags").text.split(f'data-flag="{key}"', 1)[1].split("</li>")[0]
        assert "Resolved</strong> by teacher" in shown and "Talked it through" in shown
        home = admin.get("/").text.split(f'data-learner="{email}"', 1)[1].split("</tr>")[0]
        assert 'data-attention="no"' in home and "(resolved)" in home

        # still falling: 90, 80, 70, 60, 50 (ten minutes after the last: never the same second)
        _quiz_results(locked, email, [5], end=last + timedelta(minutes=10))
        row = _class_row(locked, email)
        [again] = row["concerns"]
        assert again["key"] != key and again["review"] is None
        assert row["needs_attention"] is True
        home = admin.get("/").text.split(f'data-learner="{email}"', 1)[1].split("</tr>")[0]
        assert 'data-attention="yes"' in home and "(resolved)" not in home
