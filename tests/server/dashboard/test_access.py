"""Who may see the dashboard: sign-in, sessions, CSRF on every POST, learner-scoped links."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest
import sqlalchemy as sa

from tests.server.dashboard.conftest import (
    ADMIN,
    LEARNERS,
    csrf_of,
    seed_two_learners,
    share_link,
    signed_in,
)
from tests.support.platform import PlatformProcess, run_cli
from tests.support.postgres import Backend
from timeledger.server.store.database import create_engine

PAGES = ("/", "/learners", "/courses", f"/courses/{quote('Math G3')}", "/flags", "/events",
         f"/learners/{quote(LEARNERS[0])}", "/runs/00000000-0000-4000-8000-000000000001",
         "/share-links", "/class.csv", f"/export/gradebook.csv?learner={quote(LEARNERS[0])}",
         f"/export/course-gradebook.csv?course={quote('Math G3')}",
         f"/activity-runs?learner={quote(LEARNERS[0])}&course=Math%20G3&activity=x")


def _anonymous(platform: PlatformProcess) -> httpx.Client:
    return httpx.Client(base_url=platform.base_url, timeout=30)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_sign_in_and_shows_no_data(
        locked: PlatformProcess, locked_runs: dict[str, str], path: str) -> None:
    with _anonymous(locked) as client:
        reply = client.get(path)
    assert reply.status_code == 401
    assert 'id="login-form"' in reply.text
    assert "data-field" not in reply.text
    for email in LEARNERS:
        if email not in unquote(path):  # the sign-in form returns to the page asked for
            assert email not in reply.text
    assert "Fractions" not in reply.text


def test_bound_off_loopback_the_dashboard_needs_sign_in(backend: Backend,
                                                         tmp_path: Path) -> None:
    """No --require-login: listening on every address is enough to close the dashboard."""
    db_url = backend.new_db_url()
    with PlatformProcess(tmp_path, db_url=db_url, extra_args=["--host", "0.0.0.0"]) as wide:
        seed_two_learners(wide)
        with _anonymous(wide) as client:
            for path in (*PAGES, "/data/events"):
                reply = client.get(path)
                assert reply.status_code == 401, path
                assert "data-field" not in reply.text, path
                assert "Fractions" not in reply.text, path
            assert client.get("/login").status_code == 200
    with PlatformProcess(tmp_path, db_url=db_url) as loopback, _anonymous(loopback) as client:
        shown = client.get("/learners")  # the same store, served on 127.0.0.1, is open
        assert shown.status_code == 200
        assert LEARNERS[0] in shown.text


def test_the_events_feed_needs_sign_in(locked: PlatformProcess,
                                       locked_runs: dict[str, str]) -> None:
    with _anonymous(locked) as client:
        reply = client.get("/data/events")
    assert reply.status_code == 401
    assert reply.json() == {"error": "Sign in to see the dashboard."}


def test_static_files_need_no_sign_in(locked: PlatformProcess) -> None:
    with _anonymous(locked) as client:
        page = client.get("/login")
        assert page.status_code == 200
        urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
        assert len(urls) == 2  # icon, script (the stylesheet is inline)
        urls.append("/static/dashboard.css")  # still served (its versioned URL stays valid)
        for url in urls:
            reply = client.get(url)
            assert reply.status_code == 200, url
            assert "immutable" in reply.headers["cache-control"], url


def test_a_wrong_password_is_refused(locked: PlatformProcess) -> None:
    with _anonymous(locked) as client:
        token = csrf_of(client.get("/login").text)
        reply = client.post("/login", data={"username": ADMIN[0], "password": "wrong password",
                                            "csrf_token": token})
        assert reply.status_code == 401
        assert "Wrong username or password" in reply.text
        assert "tl_session" not in client.cookies
        unknown = client.post("/login", data={"username": "nobody", "password": ADMIN[1],
                                              "csrf_token": token})
        assert unknown.status_code == 401


def test_signing_in_sets_a_safe_session_cookie_and_opens_every_page(
        locked: PlatformProcess, locked_runs: dict[str, str]) -> None:
    with _anonymous(locked) as client:
        token = csrf_of(client.get("/login").text)
        reply = client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1],
                                            "csrf_token": token, "next": "/flags"})
        assert reply.status_code == 303
        assert reply.headers["location"] == "/flags"
        cookie = reply.headers["set-cookie"]
        assert "tl_session=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        for path in PAGES:
            page = client.get(path)
            assert page.status_code == 200, path
            assert page.headers["cache-control"] == "no-store"
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert LEARNERS[0] in client.get("/learners").text


def test_sign_in_never_redirects_off_site(locked: PlatformProcess) -> None:
    with _anonymous(locked) as client:
        token = csrf_of(client.get("/login").text)
        reply = client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1],
                                            "csrf_token": token, "next": "//evil.example/x"})
    assert reply.status_code == 303
    assert reply.headers["location"] == "/"


def test_a_post_without_the_csrf_token_is_refused(locked: PlatformProcess) -> None:
    with _anonymous(locked) as client:
        client.get("/login")
        reply = client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1]})
        assert reply.status_code == 403
        assert "tl_session" not in client.cookies
    with signed_in(locked) as admin:
        # Signing out needs the session's token: a forged form leaves the session alive.
        assert admin.post("/logout", data={}).status_code == 403
        assert admin.post("/logout", data={"csrf_token": "guess"}).status_code == 403
        assert admin.get("/").status_code == 200
        share = admin.post(f"/learners/{quote(LEARNERS[0])}/share", data={"csrf_token": "x"})
        assert share.status_code == 403
        assert "/share/" not in share.text


def test_a_post_from_another_site_is_refused_even_with_the_token(
        locked: PlatformProcess, locked_runs: dict[str, str]) -> None:
    with signed_in(locked) as admin:
        token = csrf_of(admin.get("/").text)
        path = f"/learners/{quote(LEARNERS[0])}/share"
        forged = admin.post(path, data={"csrf_token": token},
                            headers={"Origin": "https://evil.example"})
        assert forged.status_code == 403
        good = admin.post(path, data={"csrf_token": token}, headers={"Origin": locked.base_url})
        assert good.status_code == 200
        assert f"{locked.base_url}/share/" in good.text


def test_the_csrf_token_belongs_to_its_session(locked: PlatformProcess) -> None:
    with signed_in(locked) as first, signed_in(locked) as second:
        other_token = csrf_of(second.get("/").text)
        assert first.post("/logout", data={"csrf_token": other_token}).status_code == 403
        own = csrf_of(first.get("/").text)
        out = first.post("/logout", data={"csrf_token": own})
        assert out.status_code == 303
        assert first.get("/").status_code == 401
        assert second.get("/").status_code == 200


def test_a_share_link_shows_one_learner_and_nothing_else(
        locked: PlatformProcess, locked_runs: dict[str, str]) -> None:
    mine, theirs = LEARNERS
    link = share_link(locked, mine)
    assert link.startswith(f"{locked.base_url}/share/")
    with _anonymous(locked) as student:
        opened = student.get(link.removeprefix(locked.base_url))
        assert opened.status_code == 303
        assert opened.headers["location"] == f"/learners/{quote(mine, safe='')}"
        assert "HttpOnly" in opened.headers["set-cookie"]
        own = student.get(f"/learners/{quote(mine)}")
        assert own.status_code == 200
        assert mine in own.text
        assert theirs not in own.text
        assert student.get(f"/runs/{locked_runs[mine]}").status_code == 200
        for path in ("/", "/learners", "/courses", f"/courses/{quote('Math G3')}", "/flags",
                     "/events", "/data/events",
                     f"/learners/{quote(theirs)}", f"/runs/{locked_runs[theirs]}",
                     "/learners/nobody@school.example",
                     "/runs/99999999-0000-4000-8000-000000000000"):
            reply = student.get(path)
            assert reply.status_code == 403, path
            assert theirs not in reply.text, path
            assert "Fractions" not in reply.text, path
        forged = student.post(f"/learners/{quote(mine)}/share",
                              data={"csrf_token": csrf_of(own.text)})
        assert forged.status_code == 403


def test_a_revoked_or_unknown_link_opens_nothing(
        locked: PlatformProcess, locked_runs: dict[str, str]) -> None:
    with _anonymous(locked) as student:
        assert student.get("/share/not-a-token").status_code == 401
        out = run_cli("admin", "share-link", LEARNERS[0], "--url", locked.base_url,
                      *locked.db_args())
        link_id = out.stderr.split("link id ")[1].split()[0]
        assert student.get(out.stdout.strip().removeprefix(locked.base_url)).status_code == 303
        assert student.get(f"/learners/{quote(LEARNERS[0])}").status_code == 200
        run_cli("admin", "revoke-link", link_id, *locked.db_args())
        # Revoking also ends the session the link opened.
        assert student.get(f"/learners/{quote(LEARNERS[0])}").status_code == 401
        assert student.get(out.stdout.strip().removeprefix(locked.base_url)).status_code == 401


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
NAV_LINKS = re.compile(r'<nav class="mainnav"[^>]*>(.*?)</nav>', re.S)


def _nav(html: str) -> list[str]:
    """The hrefs of the page's main navigation ([] without one)."""
    found = NAV_LINKS.search(html)
    return re.findall(r'href="([^"]+)"', found.group(1)) if found else []


def test_the_404_page_carries_the_viewers_navigation(
        locked: PlatformProcess, locked_runs: dict[str, str]) -> None:
    with _anonymous(locked) as stranger:
        lost = stranger.get("/no/such/page", headers=BROWSER)
    assert lost.status_code == 404 and "<h1>Not found</h1>" in lost.text
    assert _nav(lost.text) == [] and 'id="sign-out"' not in lost.text
    assert 'class="skip-link" href="#main"' in lost.text and 'href="/"' in lost.text
    with signed_in(locked) as admin:
        home = admin.get("/")
        lost = admin.get("/no/such/page", headers=BROWSER)
        api = admin.get("/no/such/page", headers={"Accept": "application/json"})
    assert lost.status_code == 404 and "<h1>Not found</h1>" in lost.text
    assert len(_nav(home.text)) > 5 and _nav(lost.text) == _nav(home.text)
    assert 'id="sign-out"' in lost.text and 'class="skip-link" href="#main"' in lost.text
    assert api.status_code == 404 and api.json()["imsx_codeMajor"] == "failure"
    mine = LEARNERS[0]
    with _anonymous(locked) as student:
        student.get(share_link(locked, mine).removeprefix(locked.base_url))
        lost = student.get("/no/such/page", headers=BROWSER)
    assert lost.status_code == 404 and _nav(lost.text) == [f"/learners/{quote(mine)}"]


def test_the_password_is_stored_hashed(locked: PlatformProcess) -> None:
    engine = create_engine(locked.database_url())
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT password_hash FROM dashboard_admins WHERE username = :name")
            stored = conn.execute(query, {"name": ADMIN[0]}).scalar_one()
    finally:
        engine.dispose()
    assert stored.startswith("scrypt$")
    assert ADMIN[1] not in stored


def test_admin_create_checks_its_input(locked: PlatformProcess) -> None:
    short = run_cli("admin", "create", "shorty", "--password-stdin", *locked.db_args(),
                    input_text="short\n", check=False)
    assert short.returncode != 0
    assert "at least 8 characters" in short.stderr
    again = run_cli("admin", "create", ADMIN[0], "--password-stdin", *locked.db_args(),
                    input_text="another password\n", check=False)
    assert again.returncode != 0
    assert "already exists" in again.stderr


def test_loopback_is_open_but_its_forms_still_need_the_token(
        demo: PlatformProcess) -> None:
    with _anonymous(demo) as client:
        overview = client.get("/")
        assert overview.status_code == 200
        learners = demo.get("/api/v1/learners")["learners"]
        path = f"/learners/{quote(learners[0]['email'])}"
        page = client.get(path)
        assert page.status_code == 200
        assert client.post(f"{path}/share", data={}).status_code == 403
        token = csrf_of(page.text)
        shared = client.post(f"{path}/share", data={"csrf_token": token})
        assert shared.status_code == 200
        assert "/share/" in shared.text
