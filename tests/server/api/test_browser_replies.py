"""HEAD wherever GET answers, HTML 404 and 500 pages for browsers (JSON for API clients), and
the favicon, on a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.support.app_server import serving
from tests.support.platform import PlatformProcess
from tests.support.shared import REPO
from timeledger.server.app import create_app
from timeledger.server.platform import open_platform
from timeledger.server.settings import Settings
from timeledger.server.store.database import sqlite_url

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SECRET = "the-bug-detail-7f3a"  # in the failing route's exception: it must not reach a client


def _head_matches_get(client: httpx.Client, path: str) -> httpx.Response:
    for _ in range(3):  # a live page may change between two requests: compare a still moment
        got = client.get(path)
        head = client.head(path)
        if client.get(path).content == got.content:
            break
    assert got.status_code == 200, (path, got.text[:200])
    assert head.status_code == 200, (path, head.status_code)
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert int(head.headers["content-length"]) == len(got.content)
    return head


@pytest.mark.parametrize("path", ["/", "/healthz", "/learners", "/static/dashboard.css",
                                  "/favicon.ico", "/openapi.json", "/api/docs"])
def test_head_answers_where_get_does(platform: PlatformProcess, path: str) -> None:
    platform.settle()  # a page of projections (/learners) must not change between GET and HEAD
    with httpx.Client(base_url=platform.base_url, timeout=30,
                      headers={"Accept-Encoding": "identity"}) as client:
        _head_matches_get(client, path)


def test_head_on_the_query_api_keeps_its_auth(platform: PlatformProcess) -> None:
    with platform.http() as client:
        client.headers["Accept-Encoding"] = "identity"
        _head_matches_get(client, "/api/v1/learners")
    with httpx.Client(base_url=platform.base_url, timeout=30) as anonymous:
        refused = anonymous.head("/api/v1/learners")
    assert refused.status_code == 401 and refused.content == b""


def test_head_where_get_is_not_allowed_is_still_405(platform: PlatformProcess) -> None:
    reply = httpx.head(platform.base_url + "/caliper/event/validate", timeout=30)  # POST only
    assert reply.status_code == 405 and reply.content == b""


def test_the_favicon_is_the_dashboards_svg(platform: PlatformProcess) -> None:
    reply = httpx.get(platform.base_url + "/favicon.ico", timeout=30)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "image/svg+xml"
    shipped = REPO / "src/timeledger/server/dashboard/static/favicon.svg"
    assert reply.content == shipped.read_bytes()


@pytest.mark.parametrize("path", ["/no/such/page", "/api/v1/no-such-route"])
def test_an_unknown_url_is_a_page_for_a_browser(platform: PlatformProcess, path: str) -> None:
    reply = httpx.get(platform.base_url + path, headers=BROWSER, timeout=30)
    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in reply.text and 'href="/"' in reply.text
    assert "There is no page at this address." in reply.text
    assert "Content-Security-Policy" in reply.headers


@pytest.mark.parametrize("accept", [None, "*/*", "application/json",
                                    "application/json, text/html;q=0.5"])
def test_an_unknown_url_stays_json_for_api_clients(platform: PlatformProcess,
                                                    accept: str | None) -> None:
    headers = {} if accept is None else {"Accept": accept}
    with httpx.Client(base_url=platform.base_url, timeout=30) as client:
        if accept is None:
            del client.headers["Accept"]
        reply = client.get("/api/v1/no-such-route", headers=headers)
    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json()["imsx_codeMajor"] == "failure"


def test_a_dashboard_page_of_its_own_keeps_its_message(platform: PlatformProcess) -> None:
    reply = httpx.get(platform.base_url + "/learners/nobody%40nowhere.example", headers=BROWSER,
                      timeout=30)
    assert reply.status_code == 404
    # The dashboard's own page, not replaced by the generic one.
    assert "There is no such learner here." in reply.text
    assert "There is no page at this address." not in reply.text


@pytest.fixture
def failing_platform(tmp_path: Path) -> Iterator[str]:
    """The platform's app, with one route that raises, served by uvicorn on a real socket."""
    platform = open_platform(Settings(db_url=sqlite_url(tmp_path), data_dir=tmp_path))
    app: FastAPI = create_app(platform)

    async def fails() -> None:
        raise RuntimeError(SECRET)

    app.add_api_route("/learners-broken", fails, methods=["GET"])
    try:
        with serving(app) as url:
            yield url
    finally:
        platform.close()


def test_a_500_is_a_page_for_a_browser_and_never_shows_the_error(failing_platform: str) -> None:
    with httpx.Client(base_url=failing_platform, timeout=30) as client:
        page = client.get("/learners-broken", headers=BROWSER)
        assert page.status_code == 500
        assert page.headers["content-type"].startswith("text/html")
        assert "<h1>Something went wrong</h1>" in page.text
        assert SECRET not in page.text and "Traceback" not in page.text
        assert "RuntimeError" not in page.text
        head = client.head("/learners-broken", headers=BROWSER)
        assert head.status_code == 500 and head.content == b""
        api = client.get("/learners-broken")
        assert api.status_code == 500
        assert api.json()["imsx_description"] == "Internal error; the request was not applied"
        assert SECRET not in api.text
        assert client.get("/healthz").json() == {"status": "ok"}  # the connection still serves
