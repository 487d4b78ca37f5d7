"""The adapter's GET /user/verify and /user/me against a real platform: the roster user by e-mail,
its school, grade, courses, goals and XP (today and all time), and the protocol's errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client as DjangoClient
from django.urls import clear_url_caches, include, path
from starlette.applications import Starlette
from starlette.requests import Request

import tests.web.web_django_site as web_django_site
import tests.web.web_django_urls as web_django_urls
from tests.support.events import completion, heartbeat, wrap
from tests.support.platform import PlatformProcess, run_cli
from tests.support.roster_rows import add_rows, course, enrollment, klass, school, student
from tests.web.web_support import ServedApp, closing, platform_client
from timeledger.caliper.builders import ActivityRef, activity_url
from timeledger.sdk.platform_queries import PlatformQueries
from timeledger.web import create_router
from timeledger.web.django import urls

SENSOR = "https://users-app.example.com"


def identity(request: Request) -> dict[str, Any] | None:
    email = request.headers.get("x-learner")
    return {"email": email} if email else None


@pytest.fixture
def adapter(platform: PlatformProcess, tmp_path: Path) -> Iterator[str]:
    client = platform_client(platform, tmp_path / "outbox.sqlite3")
    router = create_router(client, identity=identity)
    app = Starlette()
    app.mount(router.base_path, router)
    with closing(client), ServedApp(app) as served:
        yield served.url


def get(url: str, route: str, learner: str | None) -> httpx.Response:
    headers = {"x-learner": learner} if learner else {}
    return httpx.get(f"{url}/api/timeback/user/{route}", headers=headers, timeout=30)


def study(platform: PlatformProcess, email: str, course_id: str, at: datetime, xp: float) -> None:
    """Ten focused minutes then a completion worth `xp`, ending at `at`."""
    ref = ActivityRef(url=activity_url(SENSOR, "fractions-1", subject="Math", grade=3),
                      name="Fractions 1", subject="Math", app_name="Users App",
                      course_id=course_id, course_name="Math G3")
    run_id = str(uuid.uuid4())
    assert platform.send(wrap(heartbeat(email, run_id, at - timedelta(minutes=10), 600, ref=ref),
                              completion(email, run_id, at, xp, ref=ref))).status_code == 200


def test_verify_and_me_for_a_rostered_learner(platform: PlatformProcess, adapter: str,
                                              tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    sid, email = f"stu-{tag}", f"Grace.{tag}@School.example"
    rostered, played = f"alg-{tag}", f"math-{tag}"
    add_rows(platform.database_url(), school(f"sch-{tag}", "Hopper Middle"),
             student(sid, email, primary_org_sourced_id=f"sch-{tag}", grades="06,07",
                     preferred_given_name="Grace"),
             course(rostered, "Algebra I", "ALG1", f"sch-{tag}"),
             klass(f"cls-{tag}", rostered, f"sch-{tag}"),
             enrollment(f"enr-{tag}", sid, f"cls-{tag}", f"sch-{tag}"))
    config = tmp_path / "timeback.config.json"
    config.write_text(json.dumps({"name": "Users App", "sensor": SENSOR, "courses": [
        {"subject": "Math", "grade": 3, "ids": {"production": played},
         "metadata": {"goals": {"dailyXp": 20, "dailyActiveMinutes": 15}}},
        {"subject": "Reading", "grade": 3, "ids": {"production": rostered},
         "metadata": {"goals": {"dailyXp": 10}}}]}))
    run_cli("courses", "load", str(config), *platform.db_args())
    now = datetime.now(UTC).replace(microsecond=0)
    study(platform, email.lower(), played, now - timedelta(minutes=1), 7)
    study(platform, email.lower(), played, now - timedelta(days=2), 5)

    assert get(adapter, "verify", email).json() == {"verified": True, "timebackId": sid}
    me = get(adapter, "me", email.lower())
    assert me.status_code == 200, me.text
    assert me.json() == {
        "id": sid, "email": email, "name": "Grace Lovelace",
        "school": {"id": f"sch-{tag}", "name": "Hopper Middle"}, "grade": 7,
        "courses": [{"id": rostered, "code": "ALG1", "name": "Algebra I"},
                    {"id": played, "code": played, "name": "Math G3"}],
        "goals": {"dailyXp": 30, "dailyActiveMinutes": 15},
        "xp": {"today": 7, "all": 12},
    }


def test_a_learner_known_only_from_events(platform: PlatformProcess, adapter: str) -> None:
    email = f"events-only-{uuid.uuid4().hex[:8]}@example.edu"
    study(platform, email, f"c-{uuid.uuid4().hex[:6]}", datetime.now(UTC), 3)
    verified = get(adapter, "verify", email).json()
    # support.events' actor is ".../users/student-1"; its sourcedId names the learner
    assert verified == {"verified": True, "timebackId": "student-1"}
    me = get(adapter, "me", email).json()
    assert (me["id"], me["email"], me["school"], me["grade"], me["xp"]) == (
        "student-1", email, None, None, {"today": 3, "all": 3})


def test_errors_as_the_protocol_has_them(platform: PlatformProcess, adapter: str) -> None:
    assert get(adapter, "verify", None).status_code == 401
    assert get(adapter, "me", None).json()["error"]["code"] == "UNAUTHORIZED"
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@example.edu"
    assert get(adapter, "verify", nobody).json() == {"verified": False}
    missing = get(adapter, "me", nobody)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "USER_NOT_FOUND")
    twin = f"twin-{uuid.uuid4().hex[:8]}@example.edu"
    add_rows(platform.database_url(), student(f"t1-{twin}", twin), student(f"t2-{twin}", twin))
    for route in ("verify", "me"):
        reply = get(adapter, route, twin)
        assert (reply.status_code, reply.json()["error"]["code"]) == (409, "USER_AMBIGUOUS")


def test_a_platform_that_cannot_answer_is_a_502(tmp_path: Path,
                                                make_platform: Callable[..., PlatformProcess]
                                                ) -> None:
    platform = make_platform()
    client = platform_client(platform, tmp_path / "outbox.sqlite3")
    router = create_router(client, identity=identity)
    app = Starlette()
    app.mount(router.base_path, router)
    with closing(client), ServedApp(app) as served:
        platform.stop()
        reply = get(served.url, "me", "ada@example.edu")
    assert (reply.status_code, reply.json()["error"]["code"]) == (502, "INTERNAL_ERROR")


def test_platform_queries_need_reports_read(platform: PlatformProcess) -> None:
    client_id, secret = platform.create_client("events-only", ["events:write"])
    queries = PlatformQueries(platform.base_url, client_id=client_id, client_secret=secret)
    try:
        with pytest.raises(Exception, match="403"):
            queries.verify_user("ada@example.edu")
    finally:
        queries.close()
    with httpx.Client(base_url=platform.base_url, timeout=30) as http:
        long_email = "a" * 400 + "@example.edu"
        reply = http.get("/api/v1/users/verify", params={"email": long_email},
                         headers={"Authorization": f"Bearer {platform.token()}"})
        assert reply.status_code in (400, 422)


JS_CALLS = """
import { createClient } from %s;
const [baseURL, learner] = process.argv.slice(-2);
const client = createClient({ baseURL, headers: { "x-learner": learner } });
const out = {};
for (const name of ["verify", "me"]) {
  try { out[name] = await client.user[name](); }
  catch (error) { out[name] = { code: error.code, status: error.status }; }
}
console.log(JSON.stringify(out));
"""


def js_user_calls(adapter: str, learner: str, folder: Path) -> dict[str, Any]:
    """`timeback.user.verify()` and `.me()` of the browser client the adapter serves, run by
    Node against the adapter."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    served = folder / "timeledger.mjs"
    served.write_bytes(httpx.get(f"{adapter}/api/timeback/timeledger.js", timeout=30).content)
    module = json.dumps(served.as_uri())
    done = subprocess.run([node, "--input-type=module", "-e", JS_CALLS % module, "--",
                           f"{adapter}/api/timeback", learner],
                          capture_output=True, text=True, timeout=60, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_js_client_has_user_verify_and_me(platform: PlatformProcess, adapter: str,
                                              tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    add_rows(platform.database_url(), student(f"js-{tag}", f"js-{tag}@example.edu"))
    found = js_user_calls(adapter, f"js-{tag}@example.edu", tmp_path)
    assert found["verify"] == {"verified": True, "timebackId": f"js-{tag}"}
    assert (found["me"]["id"], found["me"]["name"]) == (f"js-{tag}", "Ada Lovelace")
    missing = js_user_calls(adapter, f"nobody-{tag}@example.edu", tmp_path)
    assert missing == {"verify": {"verified": False},
                       "me": {"code": "USER_NOT_FOUND", "status": 404}}


def test_the_django_views_answer_alike(platform: PlatformProcess, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    email = f"django-{tag}@example.edu"
    add_rows(platform.database_url(), student(f"dj-{tag}", email))

    def header_identity(request: Any) -> dict[str, Any] | None:
        learner = request.headers.get("X-Learner")
        return {"email": learner} if learner else None

    with closing(platform_client(platform, tmp_path / "outbox.sqlite3")) as client:
        web_django_site.database()
        web_django_urls.urlpatterns[:] = [
            path("api/timeback/", include(urls(client, identity=header_identity)))]
        clear_url_caches()
        try:
            known = DjangoClient(headers={"X-Learner": email})
            assert known.get("/api/timeback/user/verify").json() == {
                "verified": True, "timebackId": f"dj-{tag}"}
            assert known.get("/api/timeback/user/me").json()["id"] == f"dj-{tag}"
            nobody = DjangoClient(headers={"X-Learner": f"nobody-{tag}@example.edu"})
            missing = nobody.get("/api/timeback/user/me")
            assert (missing.status_code, missing.json()["error"]["code"]) == (
                404, "USER_NOT_FOUND")
            assert DjangoClient().get("/api/timeback/user/verify").status_code == 401
        finally:
            web_django_urls.urlpatterns.clear()
            clear_url_caches()
