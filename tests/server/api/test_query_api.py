"""The query API over HTTP: shapes, lookups by email or actor id, 400s that name the parameter."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.events import completion, heartbeat, unique_email, wrap
from tests.support.pages import every_row
from tests.support.platform import PlatformProcess
from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    completed_event,
    envelope,
    time_spent_event,
)
from timeledger.caliper.metrics import Metrics

SENSOR = "https://quiz.example.com"


def course_activity(course_id: str) -> ActivityRef:
    return ActivityRef(url=f"{SENSOR}/activities/{course_id}/quiz-1", name="Quiz 1",
                       subject="Science", app_name="Quiz", course_id=course_id,
                       course_name="Science 5")


def seed(platform: PlatformProcess, course_id: str) -> tuple[str, str, str]:
    """One learner with a 10-minute run completed with 12 XP at 7/10: returns email, actor id,
    run id."""
    email = f"q-{uuid.uuid4().hex[:10]}@example.edu"
    actor = Learner(email, f"https://roster.example/users/{uuid.uuid4().hex[:8]}").actor(SENSOR)
    run_id = str(uuid.uuid4())
    start = datetime(2025, 2, 3, 14, 0, tzinfo=UTC)
    act = course_activity(course_id)
    events = [
        time_spent_event(actor=actor, activity=act, run_id=run_id, started_at=start,
                         ended_at=start + timedelta(minutes=10), active_ms=600000,
                         inactive_ms=0),
        completed_event(actor=actor, activity=act, run_id=run_id,
                        ended_at=start + timedelta(minutes=10),
                        metrics=Metrics(xp_earned=12, total_questions=10, correct_questions=7,
                                        mastered_units=2, pct_complete=30)),
    ]
    assert platform.send(envelope(SENSOR, events, start)).status_code == 200
    return email, actor["id"], run_id


def get(platform: PlatformProcess, path: str, **params: Any) -> httpx.Response:
    with platform.http() as client:
        return client.get(path, params=params)


def test_every_query_answers_for_a_seeded_learner(platform: PlatformProcess,
                                                   tmp_path: Path) -> None:
    course_id = f"sci-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "timeback.config.json"
    config.write_text(json.dumps({"name": "Quiz", "courses": [{
        "subject": "Science", "grade": 5, "ids": {"production": course_id},
        "metadata": {"goals": {"dailyXp": 10, "dailyAccuracy": 80},
                     "metrics": {"totalLessons": 8}}}]}))
    loaded = platform.cli("courses", "load", str(config))
    assert course_id in loaded.stdout
    email, actor_id, run_id = seed(platform, course_id)

    february = {"from": "2025-02-01", "to": "2025-02-28"}  # the default window ends today
    by_email = get(platform, f"/api/v1/learners/{email.upper()}/summary", **february).json()
    by_actor = get(platform, f"/api/v1/learners/{quote(actor_id, safe='')}/summary",
                   **february).json()
    assert by_email == by_actor
    (day,) = by_email["days"]
    assert (day["date"], day["active_minutes"], day["xp"]) == ("2025-02-03", 10, 12)
    assert day["accuracy"] == 70.0
    assert day["goals_met"] == {course_id: {"dailyXp": True, "dailyAccuracy": False}}

    listed = {p["email"]: p for p in every_row(platform, "/api/v1/learners", "learners")}
    # 12 XP in 10 focused minutes, and 70 % correct: two flags
    assert listed[email]["totals"]["flags"] == 2
    assert listed[email]["totals"]["runs"] == 1
    assert listed[email]["actor_ids"] == [actor_id]

    flags = get(platform, "/api/v1/flags", learner=email).json()["flags"]
    assert sorted(f["kind"] for f in flags) == ["low_accuracy", "xp_above_focused_minutes"]
    assert all(f["event_ids"] and f["reason"] for f in flags)
    only = get(platform, "/api/v1/flags", learner=email, kind="low_accuracy").json()["flags"]
    assert [f["kind"] for f in only] == ["low_accuracy"]

    book = get(platform, "/api/v1/gradebook", learner=actor_id).json()
    (item,) = book["line_items"]
    assert item["course_id"] == course_id and item["course_name"] == "Science G5"
    assert [(r["attempt"], r["score"]) for r in item["results"]] == [(1, 70.0)]
    (progress,) = book["progress"]
    assert (progress["progress"], progress["source"]) == (30.0, "pctCompleteApp")

    courses = {c["course_id"]: c for c in every_row(platform, "/api/v1/courses", "courses")}
    course = courses[course_id]
    assert course["registered"] and course["total_lessons"] == 8
    assert course["goals"] == {"dailyXp": 10, "dailyAccuracy": 80}
    assert (course["learners"], course["active_minutes"], course["xp"]) == (1, 10, 12)
    one = get(platform, f"/api/v1/courses/{course_id}").json()
    assert one.pop("projected_through")["caught_up"] is True
    assert one == course

    run = get(platform, f"/api/v1/runs/urn:uuid:{run_id.upper()}").json()
    assert run["run_id"] == run_id and run["course"] == {"id": course_id, "name": "Science G5"}
    assert get(platform, "/api/v1/runs", learner=email).json()["runs"][0]["run_id"] == run_id

    listed_courses = json.loads(platform.cli("courses", "list", "--json").stdout)
    assert course in listed_courses


def test_bad_parameters_are_400s_that_name_the_parameter(platform: PlatformProcess) -> None:
    email, _actor, _run = seed(platform, "sci-shared")
    for params, name in (({"from": "2025-13-01"}, "from"), ({"to": "yesterday"}, "to"),
                         ({"from": "2025-02-05", "to": "2025-02-01"}, "from")):
        reply = get(platform, f"/api/v1/learners/{email}/summary", **params)
        assert reply.status_code == 400, params
        assert reply.json()["imsx_error_details"][0]["path"] == name
    reply = get(platform, "/api/v1/flags", kind="too_fast")
    assert reply.status_code == 400
    assert reply.json()["imsx_error_details"][0]["path"] == "kind"
    reply = get(platform, "/api/v1/runs", limit=0)
    assert reply.status_code == 400
    assert reply.json()["imsx_error_details"][0]["path"] == "limit"


def test_a_nul_character_in_a_parameter_is_a_400_naming_it(platform: PlatformProcess) -> None:
    """PostgreSQL text cannot hold NUL; on either store such a parameter names nothing."""
    for path, params, name in (("/api/v1/runs", {"course": "math\x00"}, "course"),
                               ("/api/v1/gradebook", {"learner": "\x00@example.edu"}, "learner"),
                               ("/api/v1/courses/math%00", {}, "course_id")):
        reply = get(platform, path, **params)
        assert reply.status_code == 400, (path, reply.text)
        assert reply.json()["imsx_error_details"][0]["path"] == name


def test_unknown_learners_runs_and_courses_are_404s(platform: PlatformProcess) -> None:
    assert get(platform, "/api/v1/learners/nobody@example.edu/summary").status_code == 404
    assert get(platform, f"/api/v1/runs/{uuid.uuid4()}").status_code == 404
    assert get(platform, "/api/v1/gradebook", learner="nobody@example.edu").status_code == 404
    assert get(platform, "/api/v1/courses/no-such-course").status_code == 404


def test_queries_need_the_reports_read_scope(platform: PlatformProcess) -> None:
    client_id, secret = platform.create_client("writer-only", scopes=["events:write"])
    token = httpx.post(f"{platform.base_url}/oauth2/token",
                       data={"grant_type": "client_credentials"},
                       auth=(client_id, secret)).json()["access_token"]
    reply = httpx.get(f"{platform.base_url}/api/v1/learners",
                      headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 403
    assert httpx.get(f"{platform.base_url}/api/v1/learners").status_code == 401


def test_overview_sums_todays_learners(platform: PlatformProcess) -> None:
    """Two learners active today: the overview's last day adds their minutes, XP and questions."""
    now = datetime.now(UTC).replace(microsecond=0)
    start = max(now - timedelta(minutes=5), now.replace(hour=0, minute=0, second=0))
    before = platform.get("/api/v1/overview", days=1)
    first, second = unique_email("overview"), unique_email("overview")
    events = []
    for email, run in ((first, str(uuid.uuid4())), (second, str(uuid.uuid4()))):
        events.append(heartbeat(email, run, start, 60, 0))
        events.append(completion(email, run, start + timedelta(seconds=60), 1, 4, 3))
    assert platform.send(wrap(*events)).status_code == 200
    after = platform.get("/api/v1/overview", days=1)
    assert after["dates"] == [now.date().isoformat()]
    grew = {name: after["today"][name] - before["today"][name]
            for name in ("active_learners", "active_minutes", "xp", "completions")}
    assert grew == {"active_learners": 2, "active_minutes": pytest.approx(2.0), "xp": 2,
                    "completions": 2}
    refused = httpx.get(f"{platform.base_url}/api/v1/overview", params={"days": 0},
                        headers={"Authorization": f"Bearer {platform.token()}"})
    assert refused.status_code == 400
    assert refused.json()["imsx_error_details"][0]["path"] == "days"


def test_mean_score_skips_results_without_questions() -> None:
    from timeledger.server.queries.gradebook import mean_score

    assert mean_score([{"score": 80.0}, {"score": None}, {"score": 95.0}]) == 87.5
    assert mean_score([{"score": 100.0}, {"score": 50.0}, {"score": 33.3}]) == 61.1
    assert mean_score([{"score": None}]) is None
    assert mean_score([]) is None


def _school_week(platform: PlatformProcess, course_id: str, email: str, minutes_per_day: int,
                 xp_per_day: int, correct: list[int]) -> None:
    """A learner's Monday to Friday (3 to 7 Feb 2025): one run a day."""
    actor = Learner(email, f"https://roster.example/users/{email.split('@')[0]}").actor(SENSOR)
    act = course_activity(course_id)
    events = []
    for day in range(5):
        start = datetime(2025, 2, 3 + day, 14, 0, tzinfo=UTC)
        run_id = str(uuid.uuid4())
        end = start + timedelta(minutes=minutes_per_day)
        events.append(time_spent_event(actor=actor, activity=act, run_id=run_id,
                                       started_at=start, ended_at=end,
                                       active_ms=minutes_per_day * 60000, inactive_ms=0))
        events.append(completed_event(actor=actor, activity=act, run_id=run_id, ended_at=end,
                                      metrics=Metrics(xp_earned=xp_per_day, total_questions=10,
                                                      correct_questions=correct[day])))
    assert platform.send(envelope(SENSOR, events, datetime.now(UTC))).status_code == 200


def test_the_class_view_gives_each_learner_their_range_against_goals(
        platform: PlatformProcess, tmp_path: Path) -> None:
    course_id = f"class-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "timeback.config.json"
    config.write_text(json.dumps({"name": "Quiz", "courses": [{
        "subject": "Science", "grade": 5, "ids": {"production": course_id},
        "metadata": {"goals": {"dailyActiveMinutes": 10, "dailyXp": 8}}}]}))
    platform.cli("courses", "load", str(config))
    tag = uuid.uuid4().hex[:6]
    met, close, missed = (f"{name}-{tag}@example.edu" for name in ("met", "close", "missed"))
    _school_week(platform, course_id, met, 10, 8, [10, 9, 8, 7, 6])  # accuracy falls
    _school_week(platform, course_id, close, 8, 7, [6, 7, 8, 9, 10])
    _school_week(platform, course_id, missed, 2, 1, [9, 9, 9, 9, 9])
    view = get(platform, "/api/v1/class", course=course_id, **{"from": "2025-02-03",
                                                              "to": "2025-02-09"}).json()
    assert view["range"] == {"from": "2025-02-03", "to": "2025-02-09"}
    assert view["school_days"] == 5 and view["course"] == course_id
    rows = {row["email"]: row for row in view["learners"]}
    assert sorted(rows) == sorted([met, close, missed])
    # five school days: goals of 50 minutes and 40 XP
    assert [(rows[e]["range"]["active_minutes"], rows[e]["range"]["xp"],
             rows[e]["range"]["active_minutes_status"], rows[e]["range"]["xp_status"])
            for e in (met, close, missed)] == [
        (50, 40, "met", "met"), (40, 35, "close", "close"), (10, 5, "missed", "missed")]
    assert rows[met]["range"]["active_minutes_goal"] == 50
    assert rows[met]["range"]["xp_goal"] == 40
    assert rows[met]["accuracy"] == 80.0
    assert rows[met]["last_active"] == "2025-02-07T14:10:00.000Z"
    today_is_school_day = datetime.now(UTC).weekday() < 5
    assert rows[met]["today"]["active_minutes"] == 0
    assert rows[met]["today"]["active_minutes_status"] == (
        "missed" if today_is_school_day else None)
    kinds = {email: sorted(c["kind"] for c in row["concerns"]) for email, row in rows.items()}
    assert kinds == {met: ["accuracy_falling", "behind_goal", "inactive"],
                     close: ["behind_goal", "inactive"], missed: ["behind_goal", "inactive"]}
    falling = next(c for c in rows[met]["concerns"] if c["kind"] == "accuracy_falling")
    assert falling["accuracies"] == [100.0, 90.0, 80.0, 70.0, 60.0]
    away = next(c for c in rows[met]["concerns"] if c["kind"] == "inactive")
    assert away["since"] == "2025-02-07" and away["days"] >= 3
    assert all(row["needs_attention"] for row in rows.values())

    two = get(platform, "/api/v1/class", course=course_id,
              learner=[met, missed.upper()]).json()
    assert sorted(row["email"] for row in two["learners"]) == sorted([met, missed])
    assert get(platform, "/api/v1/class").status_code == 200


def test_class_view_parameters_are_checked(platform: PlatformProcess) -> None:
    for params, name in (({"from": "2025-02-05", "to": "2025-02-01"}, "from"),
                         ({"from": "2024-01-01", "to": "2025-02-01"}, "to"),
                         ({"from": "2025-02-31"}, "from")):
        reply = get(platform, "/api/v1/class", **params)
        assert reply.status_code == 400, (params, reply.text)
        assert reply.json()["imsx_error_details"][0]["path"] == name
    assert get(platform, "/api/v1/class", course="no-such-course").status_code == 404
    assert get(platform, "/api/v1/class", learner="nobody@example.edu").status_code == 404
    reply = get(platform, "/api/v1/flags", category="sideways")
    assert reply.status_code == 400
    assert reply.json()["imsx_error_details"][0]["path"] == "category"
