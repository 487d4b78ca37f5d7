"""The adapter protocol through WebAdapter (no framework): replies, field errors, resends."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.shared import timeback_fixture
from tests.web.web_support import closing, offline_client, shape_problems
from timeledger import Client
from timeledger.caliper.builders import Learner, stable_event_id
from timeledger.config import Course, TimebackConfig
from timeledger.web import Identity, WebAdapter
from timeledger.web.protocol import Reply
from timeledger.web.request_bodies import HeartbeatBody, read_body

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast

LEARNER = {"email": "student@example.edu", "id": "student-123"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with closing(offline_client(tmp_path / "outbox.sqlite3")) as opened:
        yield opened


@pytest.fixture
def adapter(client: Client) -> WebAdapter:
    return WebAdapter(client)


def heartbeat_body(**changes: Any) -> dict[str, Any]:
    body = timeback_fixture("adapter-heartbeat-request.json")
    body["runId"] = str(uuid.uuid4())
    body.update(changes)
    return body


def submit_body(**changes: Any) -> dict[str, Any]:
    body = timeback_fixture("adapter-submit-request.json")
    body["runId"] = str(uuid.uuid4())
    body.update(changes)
    return body


def send(adapter: WebAdapter, route: str, body: Any, user: Identity = LEARNER,
         **options: Any) -> Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return adapter.handle(route, user, raw, **options)  # type: ignore[arg-type]


def queued(client: Client, run_id: str | None = None) -> list[dict[str, Any]]:
    events = [row.event() for row in client.pending()]
    return [e for e in events if run_id is None or e["extensions"]["runId"] == run_id]


# ---- the captured Timeback traffic ---------------------------------------------------------------

def test_captured_heartbeat_becomes_the_captured_time_spent_event(adapter: WebAdapter,
                                                                  client: Client) -> None:
    body = timeback_fixture("adapter-heartbeat-request.json")
    expected = timeback_fixture("adapter-heartbeat-resulting-envelope.json")["data"][0]

    assert send(adapter, "heartbeat", body) == Reply(204)

    [event] = queued(client)
    assert shape_problems(event, expected) == []
    assert event["id"] == stable_event_id(body["runId"], body["startedAt"])
    assert [(i["type"], i["value"]) for i in event["generated"]["items"]] == [
        ("active", 290.5), ("inactive", 9.5)]
    assert event["actor"]["id"] == (
        "https://app.example.com/ims/oneroster/rostering/v1p2/users/student-123")


def test_captured_submit_becomes_the_captured_completion(adapter: WebAdapter,
                                                         client: Client) -> None:
    body = timeback_fixture("adapter-submit-request.json")
    expected = timeback_fixture("adapter-submit-resulting-envelope.json")["data"][0]

    assert send(adapter, "submit", body) == Reply(204)

    [event] = queued(client)
    assert shape_problems(event, expected) == []
    assert event["generated"]["extensions"] == {"pctCompleteApp": 40}
    assert event["eventTime"] == body["endedAt"]


def test_shape_comparison_catches_a_difference(adapter: WebAdapter, client: Client) -> None:
    """The comparison the two tests above rely on is not vacuous."""
    send(adapter, "heartbeat", timeback_fixture("adapter-heartbeat-request.json"))
    envelope = timeback_fixture("adapter-heartbeat-resulting-envelope.json")
    expected = copy.deepcopy(envelope["data"][0])
    expected["object"]["subject"] = "Reading"
    expected["generated"]["items"][1]["value"] = 9.0
    expected["extensions"]["other"] = 1

    problems = shape_problems(queued(client)[0], expected)

    assert problems == ["object.subject: 'Math' != 'Reading'",
                        "generated.items[].value: 9.5 != 9.0", "extensions.other: missing"]


# ---- who: only the identity hook -----------------------------------------------------------------

def test_no_learner_is_401_and_queues_nothing(adapter: WebAdapter, client: Client) -> None:
    reply = send(adapter, "heartbeat", heartbeat_body(), user=None)

    assert reply == Reply(401, {"error": {"code": "UNAUTHORIZED",
                                          "message": "Sign in first: no learner for this request"}})
    assert queued(client) == []


def test_the_body_cannot_name_the_learner(adapter: WebAdapter, client: Client) -> None:
    body = heartbeat_body(email="someone.else@example.edu",
                          actor={"id": "mailto:x@example.edu", "email": "x@example.edu"},
                          user={"email": "x@example.edu"})

    assert send(adapter, "heartbeat", body, user={"email": "ada@example.edu"}).status == 204

    [event] = queued(client, body["runId"])
    assert event["actor"] == {"id": "mailto:ada@example.edu", "type": "TimebackUser",
                              "email": "ada@example.edu"}


def test_the_hook_may_return_a_learner(adapter: WebAdapter, client: Client) -> None:
    body = heartbeat_body()
    learner = Learner("ada@example.edu", "https://sis.example/u/7", "Ada")

    reply = send(adapter, "heartbeat", body, user=learner)

    assert reply.status == 204
    [event] = queued(client, body["runId"])
    assert event["actor"] == {"id": "https://sis.example/u/7", "type": "TimebackUser",
                              "email": "ada@example.edu", "name": "Ada"}


def test_an_unusable_learner_from_the_hook_is_a_500(adapter: WebAdapter) -> None:
    reply = send(adapter, "heartbeat", heartbeat_body(), user={"email": "not-an-email"})

    assert reply.status == 500
    assert reply.body is not None and reply.body["error"]["code"] == "INTERNAL_ERROR"


def test_cross_site_requests_are_refused_unless_allowed(client: Client) -> None:
    strict, lenient = WebAdapter(client), WebAdapter(client, allow_cross_site=True)

    assert send(strict, "heartbeat", heartbeat_body(), cross_site=True).status == 403
    assert send(lenient, "heartbeat", heartbeat_body(), cross_site=True).status == 204


# ---- what: the body ------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"42", b"null", b"true"])
def test_a_body_that_is_not_an_object_is_a_400(adapter: WebAdapter, raw: bytes) -> None:
    assert send(adapter, "heartbeat", raw) == Reply(
        400, {"error": {"code": "INVALID_PAYLOAD", "message": "Expected a JSON object"}})


@pytest.mark.parametrize("raw", [b"", b"{", b"{'id': 1}", b'{"a": NaN}'])
def test_malformed_json_is_a_400(adapter: WebAdapter, raw: bytes) -> None:
    reply = send(adapter, "submit", raw)

    assert reply.status == 400
    assert reply.body is not None
    assert reply.body["error"]["code"] == "INVALID_PAYLOAD"
    assert reply.body["error"]["message"].startswith("Malformed JSON: ")


def test_a_body_over_the_limit_is_a_400(client: Client) -> None:
    adapter = WebAdapter(client, max_body_bytes=1000)
    body = heartbeat_body(name="x" * 1000)

    assert send(adapter, "heartbeat", body) == Reply(
        400, {"error": {"code": "INVALID_PAYLOAD", "message": "Body exceeds 1000 bytes"}})


HEARTBEAT_ERRORS = [
    ({"id": None}, "id", "Required"),
    ({"id": 7}, "id", "Expected string"),
    ({"name": "  "}, "name", "Expected non-empty string"),
    ({"course": None}, "course", "Required"),
    ({"course": ["Math", 3]}, "course", "Expected object"),
    ({"course": {}}, "course", 'Expected {"subject", "grade"} or {"code"}'),
    ({"course": {"subject": "Math"}}, "course.grade", "Required"),
    ({"course": {"subject": "Math", "grade": "3"}}, "course.grade", "Expected integer"),
    ({"course": {"grade": 3}}, "course.subject", "Required"),
    ({"course": {"code": ""}}, "course.code", "Expected non-empty string"),
    ({"runId": 981}, "runId", "Expected string"),
    ({"runId": "row\x00981"}, "runId",
     "Expected printable characters only (no control characters such as NUL)"),
    ({"runId": "x" * 257}, "runId", "Expected at most 256 characters; got 257"),
    ({"runId": " "}, "runId", "Expected a UUID or a non-blank string"),
    ({"runId": None}, "runId", "Required"),
    ({"startedAt": "2025-01-15 10:00"}, "startedAt", "Invalid datetime"),
    ({"startedAt": "2025-01-15T10:00:00+02:00"}, "startedAt", "Invalid datetime"),
    ({"endedAt": None}, "endedAt", "Required"),
    ({"endedAt": "2025-01-15T09:59:59.999Z"}, "endedAt", "Expected a time at or after startedAt"),
    ({"elapsedMs": -1}, "elapsedMs", "Expected nonnegative integer"),
    ({"elapsedMs": 1.5}, "elapsedMs", "Expected nonnegative integer"),
    ({"elapsedMs": True}, "elapsedMs", "Expected nonnegative integer"),
    ({"pausedMs": None}, "pausedMs", "Required"),
    ({"pausedMs": 86_400_001}, "pausedMs", "Expected at most 86400000 (one day)"),
    ({"process": "yes"}, "process", "Expected boolean"),
    # bounds (docs/bounds.md): years, a window of at most a day, time within its window + 1 s
    ({"startedAt": "1969-12-31T23:59:59.999Z"}, "startedAt", "Invalid datetime"),
    ({"endedAt": "3000-01-01T00:00:00.000Z"}, "endedAt", "Invalid datetime"),
    ({"endedAt": "2025-01-16T10:00:00.001Z", "elapsedMs": 0, "pausedMs": 0}, "endedAt",
     "A window may span at most 24 hours; this one spans 86400001 ms"),
    ({"elapsedMs": 301_001, "pausedMs": 0}, "elapsedMs",
     "Time may total at most the window's length plus 1000 ms (301000 ms here)"),
    ({"elapsedMs": 290_500, "pausedMs": 10_501}, "pausedMs",
     "Time may total at most the window's length plus 1000 ms (301000 ms here)"),
    ({"endedAt": "2025-01-15T10:00:00.001Z", "elapsedMs": 86_400_000}, "elapsedMs",
     "Time may total at most the window's length plus 1000 ms (1001 ms here)"),
]


@pytest.mark.parametrize("changes", [
    {"elapsedMs": 301_000, "pausedMs": 0},  # the window's 300 s plus the 1 s slack
    {"elapsedMs": 290_500, "pausedMs": 10_500},
    {"startedAt": "1970-01-01T00:00:00.000Z", "endedAt": "1970-01-02T00:00:00.000Z",
     "elapsedMs": 86_400_000, "pausedMs": 1000},
    {"startedAt": "2999-12-31T23:55:00.000Z", "endedAt": "2999-12-31T23:59:59.999Z"},
])
def test_heartbeat_at_the_bounds_is_accepted(adapter: WebAdapter, client: Client,
                                             changes: dict[str, Any]) -> None:
    body = heartbeat_body(**changes)

    assert send(adapter, "heartbeat", body) == Reply(204)

    [event] = queued(client, body["runId"])
    assert event["eventTime"] == body["endedAt"]
    assert event["generated"]["items"][0]["startDate"] == body["startedAt"]


@pytest.mark.parametrize(("changes", "field", "message"), HEARTBEAT_ERRORS)
def test_heartbeat_names_the_first_invalid_field(adapter: WebAdapter, client: Client,
                                                 changes: dict[str, Any], field: str,
                                                 message: str) -> None:
    reply = send(adapter, "heartbeat", heartbeat_body(**changes))

    assert reply == Reply(400, {"error": {"code": "INVALID_PAYLOAD",
                                          "message": f"Invalid {field}: {message}",
                                          "details": {"field": field, "message": message}}})
    assert queued(client) == []


SUBMIT_ERRORS: list[tuple[dict[str, Any], str, str]] = [
    ({"metrics": None}, "metrics", "Required"),
    ({"metrics": [12]}, "metrics", "Expected object"),
    ({"metrics": {}}, "metrics.xpEarned", "xpEarned is required."),
    ({"metrics": {"xpEarned": "12"}}, "metrics.xpEarned", "Expected a number."),
    ({"metrics": {"xpEarned": 1, "totalQuestions": 10}}, "metrics",
     "totalQuestions and correctQuestions must be provided together."),
    ({"metrics": {"xpEarned": 1, "totalQuestions": 3, "correctQuestions": 4}},
     "metrics.correctQuestions", "correctQuestions cannot exceed totalQuestions."),
    ({"metrics": {"xpEarned": 1, "masteredUnits": -1}}, "metrics.masteredUnits",
     "masteredUnits must be a non-negative integer."),
    ({"metrics": {"xpEarned": 1, "stars": 3}}, "metrics.stars",
     "Unknown metric 'stars'; expected one of: xpEarned, totalQuestions, correctQuestions,"
     " masteredUnits, pctComplete"),
    ({"metrics": {"xpEarned": 1, "pctComplete": 101}}, "metrics.pctComplete",
     "pctComplete must be a number from 0 to 100."),
    ({"pctComplete": "40"}, "pctComplete", "pctComplete must be a number from 0 to 100."),
    ({"pctComplete": 100.001}, "pctComplete", "pctComplete must be a number from 0 to 100."),
    ({"pctComplete": -0.001}, "pctComplete", "pctComplete must be a number from 0 to 100."),
    ({"metrics": {"xpEarned": 1_000_000.001}}, "metrics.xpEarned",
     "xpEarned must be a number from -1000000 to 1000000."),
    ({"metrics": {"xpEarned": -1_000_001}}, "metrics.xpEarned",
     "xpEarned must be a number from -1000000 to 1000000."),
    ({"metrics": {"xpEarned": 1e308}}, "metrics.xpEarned",
     "xpEarned must be a number from -1000000 to 1000000."),
    ({"metrics": {"xpEarned": 1, "totalQuestions": 1_000_001, "correctQuestions": 0}},
     "metrics.totalQuestions", "totalQuestions must be at most 1000000."),
    ({"metrics": {"xpEarned": 1, "masteredUnits": 1_000_001}}, "metrics.masteredUnits",
     "masteredUnits must be at most 1000000."),
    ({"endedAt": "0500-06-01T12:00:00.000Z"}, "endedAt", "Invalid datetime"),
    ({"runId": ["3f0c6a52"]}, "runId", "Expected string"),
    ({"runId": ""}, "runId", "Expected a UUID or a non-blank string"),
    ({"endedAt": "yesterday"}, "endedAt", "Invalid datetime"),
]


@pytest.mark.parametrize(("changes", "field", "message"), SUBMIT_ERRORS)
def test_submit_names_the_first_invalid_field(adapter: WebAdapter, client: Client,
                                              changes: dict[str, Any], field: str,
                                              message: str) -> None:
    reply = send(adapter, "submit", submit_body(**changes))

    assert reply == Reply(400, {"error": {"code": "INVALID_PAYLOAD",
                                          "message": f"Invalid {field}: {message}",
                                          "details": {"field": field, "message": message}}})
    assert queued(client) == []


@pytest.mark.parametrize(("pct", "xp", "count"), [
    (0, -1_000_000, 0), (100, 1_000_000, 1_000_000), (62.5, 0.5, 7)])
def test_submit_at_the_bounds_is_accepted(adapter: WebAdapter, client: Client, pct: float,
                                          xp: float, count: int) -> None:
    """pctComplete is refused past 0..100 (above), never clamped: what fits is sent as given."""
    body = submit_body(pctComplete=pct, metrics={
        "xpEarned": xp, "totalQuestions": count, "correctQuestions": count,
        "masteredUnits": count})

    assert send(adapter, "submit", body).status == 204

    [event] = queued(client, body["runId"])
    assert event["generated"]["extensions"] == {"pctCompleteApp": pct}
    assert {i["type"]: i["value"] for i in event["generated"]["items"]} == {
        "xpEarned": xp, "totalQuestions": count, "correctQuestions": count,
        "masteredUnits": count}


def test_submit_without_pct_complete_or_questions(adapter: WebAdapter, client: Client) -> None:
    body = submit_body(metrics={"xpEarned": -3})
    del body["pctComplete"]

    assert send(adapter, "submit", body).status == 204

    [event] = queued(client, body["runId"])
    assert event["generated"]["items"] == [{"type": "xpEarned", "value": -3}]
    assert "extensions" not in event["generated"]


def test_a_window_without_paused_time_has_no_inactive_item(adapter: WebAdapter,
                                                           client: Client) -> None:
    body = heartbeat_body(elapsedMs=15000, pausedMs=0)

    assert send(adapter, "heartbeat", body).status == 204

    [event] = queued(client, body["runId"])
    assert [(i["type"], i["value"]) for i in event["generated"]["items"]] == [("active", 15.0)]


@pytest.mark.parametrize("route", ["heartbeat", "submit"])
@pytest.mark.parametrize("given", [False, True, None])
def test_process_is_passed_on_and_defaults_to_true(adapter: WebAdapter, client: Client,
                                                   route: str, given: bool | None) -> None:
    body = heartbeat_body() if route == "heartbeat" else submit_body()
    if given is not None:
        body["process"] = given

    assert send(adapter, route, body).status == 204

    [event] = queued(client, body["runId"])
    assert event["object"]["process"] is (True if given is None else given)


# ---- which course --------------------------------------------------------------------------------

def test_an_unknown_course_is_a_400(adapter: WebAdapter) -> None:
    reply = send(adapter, "heartbeat", heartbeat_body(course={"subject": "Math", "grade": 9}))

    message = "No configured course matches subject 'Math' grade 9"
    assert reply == Reply(400, {"error": {"code": "UNKNOWN_COURSE", "message": message,
                                          "details": {"field": "course", "message": message}}})


def test_an_ambiguous_course_selector_is_a_500(tmp_path: Path) -> None:
    twin = Course(subject="Math", grade=3, course_code=None, course_id="math-3", name="Math G3",
                  sensor="https://app.example.com", goals={}, total_lessons=None, total_xp=None)
    config = TimebackConfig(app_name="Twins", sensor="https://app.example.com",
                            courses=(twin, twin), env="production")
    with closing(offline_client(tmp_path / "outbox.sqlite3", config=config)) as client:
        reply = send(WebAdapter(client), "submit", submit_body())

    message = "Course selector subject 'Math' grade 3 matches 2 courses"
    assert reply == Reply(500, {"error": {"code": "AMBIGUOUS_COURSE_SELECTOR", "message": message,
                                          "details": {"field": "course", "message": message}}})


def test_a_course_code_selects_the_code_url(adapter: WebAdapter, client: Client) -> None:
    body = heartbeat_body(course={"code": "CS-101"}, id="loops 1")

    assert send(adapter, "heartbeat", body).status == 204

    [event] = queued(client, body["runId"])
    assert event["object"]["id"] == "https://app.example.com/activities/CS-101/loops%201"
    assert event["object"]["subject"] == "Other"
    assert event["extensions"]["courseId"] == "CS-101"


def test_the_adapter_may_use_a_config_of_its_own(client: Client) -> None:
    own = {"name": "Other App", "sensor": "https://other.example.com",
           "courses": [{"subject": "Science", "grade": 5}]}
    adapter = WebAdapter(client, config=own)
    body = heartbeat_body(course={"subject": "Science", "grade": 5})

    assert send(adapter, "heartbeat", body).status == 204
    assert send(adapter, "heartbeat", heartbeat_body()).status == 400

    [event] = queued(client, body["runId"])
    assert event["object"]["id"] == "https://other.example.com/activities/Science/g5/fractions-1"
    assert event["object"]["app"] == {"name": "Other App"}
    assert event["actor"]["id"] == (
        "https://other.example.com/ims/oneroster/rostering/v1p2/users/student-123")


# ---- resends -------------------------------------------------------------------------------------

def test_a_resent_window_is_a_duplicate_and_queued_once(adapter: WebAdapter,
                                                        client: Client) -> None:
    body = heartbeat_body()
    later = heartbeat_body(runId=body["runId"], startedAt="2025-01-15T10:05:00.000Z",
                           endedAt="2025-01-15T10:05:15.000Z", elapsedMs=15000, pausedMs=0)

    replies = [send(adapter, "heartbeat", body), send(adapter, "heartbeat", body),
               send(adapter, "heartbeat", {**body, "elapsedMs": 1}),
               send(adapter, "heartbeat", later)]

    assert replies == [Reply(204), Reply(200, {"duplicate": True}),
                       Reply(200, {"duplicate": True}), Reply(204)]
    assert [e["id"] for e in queued(client, body["runId"])] == [
        stable_event_id(body["runId"], "2025-01-15T10:00:00.000Z"),
        stable_event_id(body["runId"], "2025-01-15T10:05:00.000Z")]


def test_a_resent_window_stays_a_duplicate_after_the_adapter_restarts(tmp_path: Path) -> None:
    body = heartbeat_body()
    outbox = tmp_path / "outbox.sqlite3"
    with closing(offline_client(outbox)) as first:
        assert send(WebAdapter(first), "heartbeat", body).status == 204
    with closing(offline_client(outbox)) as second:
        assert send(WebAdapter(second), "heartbeat", body) == Reply(200, {"duplicate": True})
        assert len(queued(second, body["runId"])) == 1


def test_a_resent_submit_is_answered_204_and_queued_once(adapter: WebAdapter,
                                                         client: Client) -> None:
    body = submit_body()

    assert [send(adapter, "submit", body) for _ in range(2)] == [Reply(204), Reply(204)]
    assert len(queued(client, body["runId"])) == 1


def test_a_queueing_failure_is_a_500(client: Client) -> None:
    adapter = WebAdapter(client)
    client.close(timeout=0)

    reply = send(adapter, "heartbeat", heartbeat_body())

    assert reply == Reply(500, {"error": {"code": "INTERNAL_ERROR",
                                          "message": "The event could not be queued"}})


@pytest.mark.parametrize("course", [{"subject": "Math", "grade": 3, "code": None, "extra": 1},
                                    {"code": "MATH-3", "subject": "Math"}])
def test_a_course_selector_is_the_models_dump(course: dict[str, Any]) -> None:
    """The activity is looked up by `selector()`, which must say what `model_dump()` says."""
    beat = read_body(HeartbeatBody, {**heartbeat_body(), "course": course})
    assert beat.course.selector() == beat.course.model_dump()
    assert list(beat.course.selector()) == list(beat.course.model_dump())
