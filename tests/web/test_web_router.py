"""The Starlette router over real HTTP, mounted in a Starlette app and in a FastAPI app."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from tests.support.shared import REPO, timeback_fixture
from tests.web.web_support import ServedApp, closing, offline_client
from timeledger import Client
from timeledger.web import create_router
from timeledger.web.assets import SCRIPT_NAMES, script


def cookie_identity(request: Request) -> dict[str, Any] | None:
    email = request.cookies.get("learner")
    return {"email": email} if email else None


async def async_identity(request: Request) -> dict[str, Any] | None:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    return {"email": f"{token}@example.edu"} if token else None


class SessionLookup:
    """An identity hook that is an object with an async __call__."""

    async def __call__(self, request: Request) -> dict[str, Any] | None:
        return {"email": "lookup@example.edu"} if request.headers.get("x-session") else None


OWN_CONFIG = {"name": "Other App", "sensor": "https://other.example.com",
              "courses": [{"subject": "Science", "grade": 5}]}


def broken_identity(request: Request) -> dict[str, Any] | None:
    raise RuntimeError("the session store is down")


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("the app's own page")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with closing(offline_client(tmp_path_factory.mktemp("router") / "outbox.sqlite3")) as opened:
        yield opened


@pytest.fixture(scope="module", params=["starlette", "fastapi"])
def served(request: pytest.FixtureRequest, client: Client) -> Iterator[ServedApp]:
    """The same three routers, mounted the way each framework's docs (docs/web.md) show."""
    cookie = create_router(client, identity=cookie_identity)
    bearer = create_router(client, identity=async_identity, base_path="/bearer/timeback")
    broken = create_router(client, identity=broken_identity, base_path="/broken")
    lookup = create_router(client, identity=SessionLookup(), base_path="/lookup")
    own = create_router(client, identity=cookie_identity, config=OWN_CONFIG, base_path="/own")
    app: Any
    if request.param == "starlette":
        app = Starlette(routes=[Route("/", home), Mount(cookie.base_path, app=cookie),
                                Mount(bearer.base_path, app=bearer),
                                Mount(broken.base_path, app=broken),
                                Mount(lookup.base_path, app=lookup),
                                Mount(own.base_path, app=own)])
    else:
        app = FastAPI()
        app.add_api_route("/", home)
        for router in (cookie, bearer, broken, lookup, own):
            app.mount(router.base_path, router)
    with ServedApp(app) as running:
        yield running


def heartbeat_body() -> dict[str, Any]:
    return {**timeback_fixture("adapter-heartbeat-request.json"), "runId": str(uuid.uuid4())}


def post(served: ServedApp, path: str, body: Any, content_type: str = "application/json",
         **headers: str) -> httpx.Response:
    return httpx.post(served.url + path, content=json.dumps(body),
                      headers={"Content-Type": content_type, **headers},
                      cookies={"learner": "ada@example.edu"})


def test_a_beacon_body_in_text_plain_is_accepted(served: ServedApp, client: Client) -> None:
    body = heartbeat_body()

    first = post(served, "/api/timeback/activity/heartbeat", body, "text/plain;charset=UTF-8")
    again = post(served, "/api/timeback/activity/heartbeat", body)

    assert (first.status_code, first.content) == (204, b"")
    assert (again.status_code, again.json()) == (200, {"duplicate": True})
    assert again.headers["content-type"] == "application/json"
    events = [r.event() for r in client.pending() if r.run_id == body["runId"]]
    assert [e["actor"]["email"] for e in events] == ["ada@example.edu"]


def test_submit_over_http(served: ServedApp, client: Client) -> None:
    body = {**timeback_fixture("adapter-submit-request.json"), "runId": str(uuid.uuid4())}

    reply = post(served, "/api/timeback/activity/submit", body, "text/plain")

    assert reply.status_code == 204
    assert [r.kind for r in client.pending() if r.run_id == body["runId"]] == ["completion"]


def test_no_cookie_is_401(served: ServedApp) -> None:
    reply = httpx.post(served.url + "/api/timeback/activity/heartbeat",
                       content=json.dumps(heartbeat_body()))

    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_json_array_is_a_400(served: ServedApp) -> None:
    reply = post(served, "/api/timeback/activity/submit", [heartbeat_body()])

    assert (reply.status_code, reply.json()) == (
        400, {"error": {"code": "INVALID_PAYLOAD", "message": "Expected a JSON object"}})


def test_an_async_identity_hook(served: ServedApp, client: Client) -> None:
    body = heartbeat_body()
    url = served.url + "/bearer/timeback/activity/heartbeat"

    signed = httpx.post(url, content=json.dumps(body), headers={"Authorization": "Bearer grace"})
    anonymous = httpx.post(url, content=json.dumps(heartbeat_body()))

    assert (signed.status_code, anonymous.status_code) == (204, 401)
    [row] = [r for r in client.pending() if r.run_id == body["runId"]]
    assert row.event()["actor"]["email"] == "grace@example.edu"


def test_an_object_with_an_async_call_is_awaited(served: ServedApp, client: Client) -> None:
    body = heartbeat_body()

    reply = post(served, "/lookup/activity/heartbeat", body, **{"x-session": "1"})

    assert reply.status_code == 204
    [row] = [r for r in client.pending() if r.run_id == body["runId"]]
    assert row.event()["actor"]["email"] == "lookup@example.edu"


def test_a_router_with_a_config_of_its_own(served: ServedApp, client: Client) -> None:
    body = {**heartbeat_body(), "course": {"subject": "Science", "grade": 5}}

    ours = post(served, "/own/activity/heartbeat", body)
    theirs = post(served, "/own/activity/heartbeat", heartbeat_body())

    assert ours.status_code == 204
    assert (theirs.status_code, theirs.json()["error"]["code"]) == (400, "UNKNOWN_COURSE")
    [row] = [r for r in client.pending() if r.run_id == body["runId"]]
    assert row.event()["object"]["id"] == (
        "https://other.example.com/activities/Science/g5/fractions-1")


def test_a_body_over_the_limit_is_refused_without_reading_it_all(served: ServedApp) -> None:
    reply = httpx.post(served.url + "/api/timeback/activity/heartbeat",
                       content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                       cookies={"learner": "ada@example.edu"})

    assert (reply.status_code, reply.json()) == (
        400, {"error": {"code": "INVALID_PAYLOAD", "message": "Body exceeds 65536 bytes"}})


def test_an_identity_hook_that_raises_is_a_500(served: ServedApp) -> None:
    reply = post(served, "/broken/activity/heartbeat", heartbeat_body())

    assert (reply.status_code, reply.json()) == (
        500, {"error": {"code": "INTERNAL_ERROR", "message": "The identity hook failed"}})


def test_cross_site_posts_are_refused(served: ServedApp) -> None:
    reply = post(served, "/api/timeback/activity/heartbeat", heartbeat_body(),
                 **{"Sec-Fetch-Site": "cross-site"})
    same = post(served, "/api/timeback/activity/heartbeat", heartbeat_body(),
                **{"Sec-Fetch-Site": "same-origin"})

    assert (reply.status_code, same.status_code) == (403, 204)


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_the_browser_client_is_served(served: ServedApp, name: str) -> None:
    packaged = (REPO / "src" / "timeledger" / "web" / "static"
                / name).read_bytes()

    reply = httpx.get(f"{served.url}/api/timeback/{name}")
    cached = httpx.get(f"{served.url}/api/timeback/{name}",
                       headers={"If-None-Match": reply.headers["etag"]})

    assert reply.status_code == 200
    assert reply.content == packaged == script(name).content
    assert reply.headers["content-type"] == "text/javascript; charset=utf-8"
    assert (cached.status_code, cached.content) == (304, b"")


def test_the_browser_client_has_no_dependencies() -> None:
    """Plain ES modules: nothing to build; the bindings import only their framework (a peer)."""

    def imports(name: str) -> list[str]:
        without_blocks = re.sub(r"/\*.*?\*/", "", script(name).content.decode(), flags=re.S)
        code = "\n".join(line for line in without_blocks.splitlines()
                         if not line.lstrip().startswith("//"))
        return re.findall(r"""\b(?:from|import\s*\(?|require\s*\()\s*["']([^"']+)["']""", code)

    assert imports("timeledger.js") == []
    assert imports("timeledger-react.js") == ["react", "./timeledger.js"]
    assert imports("timeledger-vue.js") == ["vue"]
    assert imports("timeledger-svelte.js") == ["svelte/store", "./timeledger.js"]
    assert "export function createClient" in script("timeledger.js").content.decode()
    assert "export function useActivity" in script("timeledger-react.js").content.decode()


def test_routes_answer_only_their_methods_and_the_app_keeps_its_own(served: ServedApp) -> None:
    assert httpx.get(served.url + "/api/timeback/activity/heartbeat").status_code == 405
    assert httpx.get(served.url + "/api/timeback/nothing-here").status_code == 404
    assert httpx.get(served.url + "/").text == "the app's own page"


def test_the_router_knows_where_it_goes(client: Client) -> None:
    assert create_router(client, identity=cookie_identity).script_url == (
        "/api/timeback/timeledger.js")
    assert create_router(client, identity=cookie_identity, base_path="lessons/tb/").base_path == (
        "/lessons/tb")


def test_a_router_that_is_the_whole_app_routes_its_posts_as_a_router_does(client: Client) -> None:
    """The activity routes are found by path (not route by route); the scope still names the
    route and its endpoint, as Starlette's matching sets them (middleware may read them)."""
    router = create_router(client, identity=cookie_identity, base_path="")
    routed: list[tuple[str, str | None, object]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await router(scope, receive, send)
        route = scope.get("route")
        routed.append((scope["method"], getattr(route, "name", None), scope.get("endpoint")))

    with ServedApp(app) as running:
        beat = httpx.post(running.url + "/activity/heartbeat", content=json.dumps(heartbeat_body()),
                          cookies={"learner": "ada@example.edu"})
        wrong_method = httpx.get(running.url + "/activity/heartbeat")
        elsewhere = httpx.post(running.url + "/api/timeback/activity/heartbeat", content=b"{}")

    assert (beat.status_code, wrong_method.status_code, elsewhere.status_code) == (204, 405, 404)
    heartbeat_route = next(route for route in router.routes
                           if getattr(route, "name", None) == "timeback-heartbeat")
    assert routed[0] == ("POST", "timeback-heartbeat",
                         heartbeat_route.endpoint)  # type: ignore[attr-defined]
    assert routed[1][:2] == ("GET", "timeback-heartbeat")
