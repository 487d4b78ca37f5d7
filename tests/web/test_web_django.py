"""The adapter as Django views, driven by Django's own test client."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client as DjangoClient
from django.urls import clear_url_caches, include, path

import tests.web.web_django_site as web_django_site
import tests.web.web_django_urls as web_django_urls
from tests.support.shared import timeback_fixture
from tests.web.web_support import closing, offline_client
from timeledger import Client
from timeledger.web.assets import script
from timeledger.web.django import urls


def header_identity(request: Any) -> dict[str, Any] | None:
    email = request.headers.get("X-Learner")
    return {"email": email, "id": "s-1"} if email else None


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with closing(offline_client(tmp_path_factory.mktemp("django") / "outbox.sqlite3")) as opened:
        web_django_site.database()
        web_django_urls.urlpatterns[:] = [
            path("api/timeback/", include(urls(opened, identity=header_identity))),
            path("api/signed-in/", include(urls(opened)))]
        clear_url_caches()
        yield opened
        web_django_urls.urlpatterns.clear()
        clear_url_caches()


@pytest.fixture
def visitor(client: Client) -> DjangoClient:
    """Django's test client, enforcing CSRF as a real site does."""
    return DjangoClient(enforce_csrf_checks=True, headers={"X-Learner": "ada@example.edu"})


def heartbeat_body() -> dict[str, Any]:
    return {**timeback_fixture("adapter-heartbeat-request.json"), "runId": str(uuid.uuid4())}


def test_heartbeat_as_a_beacon_then_its_resend(visitor: DjangoClient, client: Client) -> None:
    body = json.dumps(heartbeat_body())

    first = visitor.post("/api/timeback/activity/heartbeat", body,
                         content_type="text/plain;charset=UTF-8")
    again = visitor.post("/api/timeback/activity/heartbeat", body,
                         content_type="application/json")

    assert (first.status_code, first.content) == (204, b"")
    assert (again.status_code, again.json()) == (200, {"duplicate": True})
    [row] = [r for r in client.pending() if r.run_id == json.loads(body)["runId"]]
    assert row.event()["actor"] == {
        "id": "https://app.example.com/ims/oneroster/rostering/v1p2/users/s-1",
        "type": "TimebackUser", "email": "ada@example.edu"}


def test_submit_and_its_field_errors(visitor: DjangoClient) -> None:
    body = {**timeback_fixture("adapter-submit-request.json"), "runId": str(uuid.uuid4())}
    wrong = {**body, "metrics": {"xpEarned": 3, "totalQuestions": 2, "correctQuestions": 5}}

    ok = visitor.post("/api/timeback/activity/submit", json.dumps(body), content_type="text/plain")
    bad = visitor.post("/api/timeback/activity/submit", wrong, content_type="application/json")

    assert ok.status_code == 204
    assert (bad.status_code, bad.json()) == (400, {"error": {
        "code": "INVALID_PAYLOAD",
        "message": "Invalid metrics.correctQuestions: "
                   "correctQuestions cannot exceed totalQuestions.",
        "details": {"field": "metrics.correctQuestions",
                    "message": "correctQuestions cannot exceed totalQuestions."}}})


def test_no_learner_is_401(client: Client) -> None:
    reply = DjangoClient().post("/api/timeback/activity/heartbeat", heartbeat_body(),
                                content_type="application/json")

    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "UNAUTHORIZED"


def test_non_objects_and_broken_json_are_400(visitor: DjangoClient) -> None:
    listed = visitor.post("/api/timeback/activity/heartbeat", "[]", content_type="text/plain")
    broken = visitor.post("/api/timeback/activity/heartbeat", "{", content_type="text/plain")

    assert (listed.status_code, listed.json()["error"]["message"]) == (
        400, "Expected a JSON object")
    assert broken.status_code == 400


def test_get_on_an_activity_route_is_405(visitor: DjangoClient) -> None:
    assert visitor.get("/api/timeback/activity/heartbeat").status_code == 405


def test_cross_site_posts_are_refused(visitor: DjangoClient) -> None:
    reply = visitor.post("/api/timeback/activity/heartbeat", heartbeat_body(),
                         content_type="application/json", headers={"Sec-Fetch-Site": "cross-site"})

    assert (reply.status_code, reply.json()["error"]["code"]) == (403, "FORBIDDEN")


@pytest.mark.parametrize("name", ["timeledger.js", "timeledger-react.js"])
def test_the_browser_client_is_served(visitor: DjangoClient, name: str) -> None:
    reply = visitor.get(f"/api/timeback/{name}")
    cached = visitor.get(f"/api/timeback/{name}", headers={"If-None-Match": reply["ETag"]})

    assert reply.status_code == 200
    assert reply.content == script(name).content
    assert reply["Content-Type"] == "text/javascript; charset=utf-8"
    assert cached.status_code == 304


def test_the_default_hook_is_the_signed_in_django_user(client: Client) -> None:
    """Django's own sessions and auth: a logged-in user is the learner, anyone else gets 401."""
    users = get_user_model().objects
    ada = users.create_user(f"ada-{uuid.uuid4().hex[:6]}", email="ada@example.edu")
    nameless = users.create_user(f"nameless-{uuid.uuid4().hex[:6]}", email="")
    signed_in, without_email = (DjangoClient(enforce_csrf_checks=True) for _ in range(2))
    signed_in.force_login(ada)
    without_email.force_login(nameless)
    body = heartbeat_body()
    url = "/api/signed-in/activity/heartbeat"

    replies = [visitor.post(url, json.dumps(body), content_type="text/plain")
               for visitor in (signed_in, without_email, DjangoClient())]

    assert [reply.status_code for reply in replies] == [204, 401, 401]
    [row] = [r for r in client.pending() if r.run_id == body["runId"]]
    assert row.event()["actor"] == {
        "id": f"https://app.example.com/ims/oneroster/rostering/v1p2/users/{ada.pk}",
        "type": "TimebackUser", "email": "ada@example.edu"}
