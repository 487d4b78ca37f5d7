"""Schemathesis over `/openapi.json` of a real platform: no 5xx, every answer as documented.

Each operation of the document is fuzzed with schema-valid input (positive) and schema-breaking
input (negative), with a bearer token holding every scope, and each reply must be a status the
document lists for that operation, with a body matching its schema and content type. The query
routes are fuzzed again with their path ids pinned to a seeded learner, run and course, so real
200 answers are checked against the response models too. The dashboard's HTML pages are not in
the document (they are not an API); tests/server/dashboard checks them in a browser.

Cases: CASES_PER_RUN for each operation and mode, derandomized, so a run is the same every time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from tests.support.events import completion, heartbeat, unique_email, wrap
from tests.support.platform import PlatformProcess
from tests.support.postgres import Backend

CASES_PER_RUN = 50
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
WITH_QUERY_OR_BODY = (
    "POST /caliper/event",
    "POST /caliper/event/validate",
    "GET /jobs/{job_id}/status",
    "GET /caliper/events",
    "GET /api/v1/learners",
    "GET /api/v1/learners/{learner}/summary",
    "GET /api/v1/runs",
    "GET /api/v1/runs/{run_id}",
    *(f"GET /api/v1/runs/{{run_id}}/{name}" for name in ("windows", "session-days", "flags")),
    "GET /api/v1/gradebook",
    "GET /api/v1/flags",
    "GET /api/v1/courses",
    "GET /api/v1/courses/{course_id}",
    "GET /api/v1/overview",
    "GET /api/v1/projection",
    "GET /api/v1/class",
    *(f"GET /ims/oneroster/rostering/v1p2/{path}" for path in (
        "users", "students", "teachers", "orgs", "schools", "academicSessions", "courses",
        "classes", "enrollments")),
    *(f"GET /ims/oneroster/rostering/v1p2/{path}/{{sourced_id}}" for path in (
        "users", "students", "teachers", "orgs", "schools", "academicSessions", "courses",
        "classes", "enrollments")),
    "GET /ims/oneroster/rostering/v1p2/classes/{class_id}/students",
    "GET /ims/oneroster/rostering/v1p2/classes/{class_id}/teachers",
    *(f"GET /ims/oneroster/gradebook/v1p2/{path}" for path in (
        "assessmentLineItems", "assessmentLineItems/{sourced_id}", "assessmentResults",
        "assessmentResults/{sourced_id}")),
    "GET /api/v1/users/verify",
    "GET /api/v1/users/profile",
)
"""Operations with query parameters or a body: also fuzzed with input that breaks the schema.
(A text path id has no invalid value, so the others have nothing to break.)"""
OTHERS = (
    "GET /healthz",
    "GET /readyz",
    "POST /oauth2/token",  # no body in the document: it gets only the bearer header, a 400
    "GET /caliper/event",
    "GET /caliper/events/{event_id}",
    # the gradebook's writes read their body themselves (no body in the document)
    *(f"POST /ims/oneroster/gradebook/v1p2/{path}" for path in (
        "assessmentLineItems", "assessmentResults")),
    *(f"PUT /ims/oneroster/gradebook/v1p2/{path}/{{sourced_id}}" for path in (
        "assessmentLineItems", "assessmentResults")),
)
OPERATIONS = WITH_QUERY_OR_BODY + OTHERS
# 5xx this suite finds in another part's code, to be fixed there: strict, so each mark must go
# when its fix lands (and no other 5xx can hide behind it: the mark is per operation and mode).
KNOWN_5XX: dict[tuple[str, GenerationMode], str] = {}


class Seeded:
    """What the fuzzed platform holds: one learner with a completed run in a registered course."""

    def __init__(self, email: str, run_id: str, course_id: str, event_id: str) -> None:
        self.email, self.run_id, self.course_id, self.event_id = email, run_id, course_id, event_id


@pytest.fixture(scope="module")
def fuzzed(backend: Backend, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[PlatformProcess, Seeded]]:
    folder = tmp_path_factory.mktemp("fuzzed")
    with PlatformProcess(folder, db_url=backend.new_db_url()) as platform:
        course_id = "course-abc"  # the one support.events' activity names
        config = folder / "timeback.config.json"
        config.write_text(json.dumps({"name": "Example App", "courses": [{
            "subject": "Math", "grade": 3, "ids": {"production": course_id},
            "metadata": {"goals": {"dailyXp": 10, "dailyAccuracy": 80},
                         "metrics": {"totalLessons": 8}}}]}))
        platform.cli("courses", "load", str(config))
        email, run_id = unique_email("fuzz"), str(uuid.uuid4())
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        done = completion(email, run_id, start + timedelta(minutes=2), 12, 10, 7)
        reply = platform.send(wrap(heartbeat(email, run_id, start, 120), done))
        assert reply.status_code == 200, reply.text
        yield platform, Seeded(email, run_id, course_id, done["id"])


@pytest.fixture(scope="module")
def api_schema(fuzzed: tuple[PlatformProcess, Seeded]) -> schemathesis.BaseSchema:
    platform, _ = fuzzed
    return schemathesis.openapi.from_url(f"{platform.base_url}/openapi.json")


def operation_labels(schema: schemathesis.BaseSchema) -> dict[str, bool]:
    """Every operation's label, and whether it has query parameters or a body."""
    labels = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document parses
        operation = result.ok()
        raw = operation.definition.raw
        labels[operation.label] = "requestBody" in raw or any(
            parameter["in"] == "query" for parameter in raw.get("parameters", []))
    return labels


def test_the_fuzzed_lists_are_every_operation_of_the_document(
        api_schema: schemathesis.BaseSchema) -> None:
    breakable = operation_labels(api_schema)
    assert sorted(breakable) == sorted(OPERATIONS)
    assert sorted(label for label, has in breakable.items() if has) == sorted(WITH_QUERY_OR_BODY)


ANY_ROUTE = {400, 408, 431}  # a Host not served, a stalled request, an oversized head
READER = ANY_ROUTE | {401, 403, 503}
WRITER_BODY = READER | {413, 415, 422}
DOCUMENTED_ERRORS = {
    "GET /healthz": ANY_ROUTE,
    "GET /readyz": ANY_ROUTE | {503},
    "POST /oauth2/token": ANY_ROUTE | {401, 413, 429, 503},
    "GET /caliper/event": ANY_ROUTE,
    "POST /caliper/event": WRITER_BODY,
    "POST /caliper/event/validate": WRITER_BODY,
    "GET /jobs/{job_id}/status": READER | {404},
    "GET /caliper/events": READER,
    "GET /caliper/events/{event_id}": READER | {404},
    "GET /api/v1/learners": READER,
    "GET /api/v1/learners/{learner}/summary": READER | {404},
    "GET /api/v1/runs": READER | {404},
    "GET /api/v1/runs/{run_id}": READER | {404},
    **{f"GET /api/v1/runs/{{run_id}}/{name}": READER | {404}
       for name in ("windows", "session-days", "flags")},
    "GET /api/v1/gradebook": READER | {404},
    "GET /api/v1/flags": READER | {404},
    "GET /api/v1/courses": READER,
    "GET /api/v1/courses/{course_id}": READER | {404},
    "GET /api/v1/overview": READER,
    "GET /api/v1/projection": READER,
    "GET /api/v1/class": READER | {404},
    **{label: READER | {404} if "{" in label else READER
       for label in WITH_QUERY_OR_BODY if label.startswith("GET /ims/oneroster/rostering/")},
    **{label: READER | {404} if "{" in label else READER
       for label in WITH_QUERY_OR_BODY if label.startswith("GET /ims/oneroster/gradebook/")},
    **{label: READER | {201, 413, 409 if label.startswith("POST") else 404}
       for label in OTHERS if "/ims/oneroster/gradebook/" in label},
    "GET /api/v1/users/verify": READER | {409},
    "GET /api/v1/users/profile": READER | {404, 409},
}
"""What each route can answer besides 200, read off its code (not off the document)."""


def test_the_document_lists_the_errors_each_route_can_answer(
        fuzzed: tuple[PlatformProcess, Seeded]) -> None:
    platform, _ = fuzzed
    document = httpx.get(f"{platform.base_url}/openapi.json").json()
    listed = {f"{method.upper()} {path}": {int(status) for status in operation["responses"]
                                           if status != "200"}
              for path, operations in document["paths"].items()
              for method, operation in operations.items()}
    assert listed == DOCUMENTED_ERRORS
    token_401 = document["paths"]["/oauth2/token"]["post"]["responses"]["401"]
    assert token_401["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OAuthError"}
    not_found = document["paths"]["/api/v1/runs/{run_id}"]["get"]["responses"]["404"]
    assert not_found["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ImsError"}
    assert "HTTPValidationError" not in json.dumps(document)  # FastAPI's 422, never answered


def fuzz(platform: PlatformProcess, operation: schemathesis.APIOperation[Any, Any, Any, Any],
         mode: GenerationMode, **pinned: Any) -> None:
    headers = {"Authorization": f"Bearer {platform.token()}"}
    checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS

    @given(case=operation.as_strategy(generation_mode=mode, **pinned))
    @settings(max_examples=CASES_PER_RUN, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    def answers_as_documented(case: schemathesis.Case[Any]) -> None:
        response = case.call(base_url=platform.base_url, headers=headers, timeout=30)
        # A head past the server's limit (a long list of query parameters) is refused with 431
        # before any route sees it: a rejection, though not among schemathesis's expected codes.
        refused_head = response.status_code == 431
        case.validate_response(response, headers=headers, checks=[
            check for check in checks if not (refused_head and check is negative_data_rejection)])

    answers_as_documented()


def labelled(labels: tuple[str, ...], mode: GenerationMode) -> list[Any]:
    return [pytest.param(label, mode, marks=pytest.mark.xfail(
        strict=True, reason=KNOWN_5XX[label, mode])) if (label, mode) in KNOWN_5XX
            else pytest.param(label, mode) for label in labels]


@pytest.mark.parametrize(("label", "mode"), [
    *labelled(OPERATIONS, GenerationMode.POSITIVE),
    *labelled(WITH_QUERY_OR_BODY, GenerationMode.NEGATIVE)])
def test_every_operation_answers_as_documented(
        fuzzed: tuple[PlatformProcess, Seeded], api_schema: schemathesis.BaseSchema, label: str,
        mode: GenerationMode) -> None:
    method, path = label.split(" ", 1)
    fuzz(fuzzed[0], api_schema[path][method], mode)


def pinned_ids(seeded: Seeded) -> dict[str, dict[str, str]]:
    return {
        "/api/v1/learners/{learner}/summary": {"learner": seeded.email},
        **{f"/api/v1/runs/{{run_id}}{tail}": {"run_id": seeded.run_id}
           for tail in ("", "/windows", "/session-days", "/flags")},
        "/api/v1/courses/{course_id}": {"course_id": seeded.course_id},
        "/caliper/events/{event_id}": {"event_id": seeded.event_id},
    }


@pytest.mark.parametrize("path", ["/api/v1/learners/{learner}/summary", "/api/v1/runs/{run_id}",
                                  "/api/v1/courses/{course_id}", "/caliper/events/{event_id}"])
def test_a_known_id_answers_200s_that_match_the_models(
        fuzzed: tuple[PlatformProcess, Seeded], api_schema: schemathesis.BaseSchema,
        path: str) -> None:
    platform, seeded = fuzzed
    fuzz(platform, api_schema[path]["GET"], GenerationMode.POSITIVE,
         path_parameters=pinned_ids(seeded)[path])


def test_every_query_route_answers_200_with_its_model_on_seeded_data(
        fuzzed: tuple[PlatformProcess, Seeded], api_schema: schemathesis.BaseSchema) -> None:
    """One plain request per `/api/v1` route on the seeded data: a 200 whose body the document's
    schema for it accepts, and holds the seeded figures (so the model did not drop them)."""
    platform, seeded = fuzzed
    pinned = pinned_ids(seeded)
    seen: dict[str, Any] = {}
    for label in OPERATIONS:
        method, path = label.split(" ", 1)
        if not path.startswith("/api/v1/"):
            continue
        operation = api_schema[path][method]
        query = {"email": seeded.email} if path.startswith("/api/v1/users/") else {}
        case = operation.Case(path_parameters=pinned.get(path), query=query)
        headers = {"Authorization": f"Bearer {platform.token()}"}
        response = case.call(base_url=platform.base_url, headers=headers, timeout=30)
        assert response.status_code == 200, (label, response.text)
        case.validate_response(response, checks=CHECKS, headers=headers)
        seen[path] = response.json()
    (day,) = seen["/api/v1/learners/{learner}/summary"]["days"]
    assert (day["active_minutes"], day["xp"], day["accuracy"]) == (2.0, 12, 70.0)
    run = seen["/api/v1/runs/{run_id}"]
    assert (run["active_seconds"], run["completion"]["xp"]) == (120.0, 12)
    assert seen["/api/v1/courses/{course_id}"]["goals"] == {"dailyXp": 10, "dailyAccuracy": 80}
    assert {flag["kind"] for flag in seen["/api/v1/flags"]["flags"]
            if flag["learner"] == seeded.email} == {"low_accuracy", "xp_above_focused_minutes"}
