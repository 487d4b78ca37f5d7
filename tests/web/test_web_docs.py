"""The Python examples of docs/web.md run as written: Starlette, FastAPI and Django, for real."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client as DjangoClient
from django.urls import clear_url_caches

import tests.web.web_django_site as web_django_site
import tests.web.web_django_urls as web_django_urls
from tests.support.platform import PlatformProcess
from tests.support.shared import REPO, timeback_fixture
from tests.web.web_support import ServedApp, stored_events

DOC = REPO / "docs" / "web.md"
HEARTBEAT = "/api/timeback/activity/heartbeat"


def window() -> str:
    """A captured heartbeat body with a run of its own, as a beacon would send it."""
    return json.dumps({**timeback_fixture("adapter-heartbeat-request.json"),
                       "runId": str(uuid.uuid4())})


def run_blocks(namespace: dict[str, Any]) -> dict[str, Any]:
    """Exec the doc's Python blocks in order; returns what each framework's block built."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 6
    built: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
        if "Starlette(" in block:
            built["starlette"] = namespace["app"]
        if "FastAPI()" in block:
            built["fastapi"] = namespace["app"]
        if "timeback_urls(client)" in block:
            built["django"] = namespace["urlpatterns"]
    assert set(built) == {"starlette", "fastapi", "django"}
    return built


def test_web_doc_examples_run(platform: PlatformProcess, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in platform.sdk_environment("web-docs",
                                                    tmp_path / "outbox.sqlite3").items():
        monkeypatch.setenv(variable, value)
    tag = uuid.uuid4().hex[:8]
    by_cookie = {"email": f"cookie-{tag}@example.edu", "id": f"u-{tag}"}
    by_token = {"email": f"token-{tag}@example.edu"}
    namespace: dict[str, Any] = {}
    built = run_blocks(namespace)
    client = namespace["client"]
    try:
        namespace["SESSIONS"]["cookie-value"] = by_cookie
        namespace["TOKENS"]["token-value"] = by_token
        with ServedApp(built["starlette"]) as starlette:
            session = httpx.post(starlette.url + HEARTBEAT, content=window(),
                                 headers={"Content-Type": "text/plain;charset=UTF-8"},
                                 cookies={"session": "cookie-value"})
            no_session = httpx.post(starlette.url + HEARTBEAT, content=window())
            home = httpx.get(starlette.url + "/")
            script = httpx.get(starlette.url + "/api/timeback/timeledger.js")
        with ServedApp(built["fastapi"]) as fastapi:
            token = httpx.post(fastapi.url + HEARTBEAT, content=window(),
                               headers={"Authorization": "Bearer token-value"})
            bad_token = httpx.post(fastapi.url + HEARTBEAT, content=window(),
                                   headers={"Authorization": "Bearer other"})

        web_django_site.database()
        user = get_user_model().objects.create_user(f"django-{tag}",
                                                    email=f"django-{tag}@example.edu")
        web_django_urls.urlpatterns[:] = built["django"]
        clear_url_caches()
        signed_in = DjangoClient(enforce_csrf_checks=True)
        signed_in.force_login(user)
        django_ok = signed_in.post(HEARTBEAT, window(), content_type="text/plain")
        django_anonymous = DjangoClient().post(HEARTBEAT, window(), content_type="text/plain")

        assert (session.status_code, no_session.status_code) == (204, 401)
        assert (home.text, script.status_code) == ("Lessons", 200)
        assert (token.status_code, bad_token.status_code) == (204, 401)
        assert (django_ok.status_code, django_anonymous.status_code) == (204, 401)
        assert client.flush(20), "the outbox did not drain"
    finally:
        web_django_urls.urlpatterns.clear()
        clear_url_caches()
        client.close(timeout=5)

    users = "https://fractions.example.com/ims/oneroster/rostering/v1p2/users"
    for email, actor_id in [(by_cookie["email"], f"{users}/{by_cookie['id']}"),
                            (by_token["email"], f"mailto:{by_token['email']}"),
                            (user.email, f"{users}/{user.pk}")]:
        [event] = stored_events(platform, email, "TimeSpentEvent")
        assert event["actor"]["id"] == actor_id
        assert event["object"]["id"] == "https://fractions.example.com/activities/Math/g3/fractions-1"
    [completion] = stored_events(platform, namespace["email"], "ActivityEvent",
                                 namespace["run_id"])
    assert {i["type"]: i["value"] for i in completion["generated"]["items"]} == {
        "xpEarned": 6, "totalQuestions": 6, "correctQuestions": 5}
