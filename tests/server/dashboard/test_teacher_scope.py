"""Teachers in the dashboard: an account linked to a roster teacher sees the learners of their
classes and no one else, on every page it can reach; an admin still sees everyone."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from urllib.parse import quote, urljoin, urlsplit

import httpx
import pytest

from tests.server.conftest import LEARNERS
from tests.support.platform import PlatformProcess, run_cli
from tests.support.roster_files import SAMPLE, read_csv

PASSWORD = "correct horse battery"
MAX_PAGES = 400
ENROLLMENTS = read_csv(SAMPLE / "enrollments.csv")


def _students_of(class_id: str) -> set[str]:
    return {row["userSourcedId"] for row in ENROLLMENTS
            if row["classSourcedId"] == class_id and row["role"] == "student"}


def _account(platform: PlatformProcess, *teacher: str) -> str:
    username = f"user-{uuid.uuid4().hex[:8]}"
    created = run_cli("admin", "create", username, "--password-stdin", *teacher,
                      *platform.db_args(), input_text=PASSWORD + "\n")
    assert "created" in created.stdout
    return username


def _csrf(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


@contextmanager
def _signed_in(platform: PlatformProcess, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.base_url, timeout=30) as client:
        token = _csrf(client.get("/login").text)
        reply = client.post("/login", data={"username": username, "password": PASSWORD,
                                            "csrf_token": token, "next": "/classes"})
        assert reply.status_code == 303, reply.text
        yield client


def _same_site_links(html: str, here: str) -> set[str]:
    found = set()
    for href in re.findall(r'href="([^"]+)"', html):
        url = urlsplit(urljoin(here, unescape(href)))
        if url.netloc in ("", urlsplit(here).netloc) and url.path.startswith("/") \
                and not url.path.startswith(("/static", "/favicon")):
            found.add(url.path + (f"?{url.query}" if url.query else ""))
    return found


def _run_ids(platform: PlatformProcess, email: str) -> list[str]:
    return [run["run_id"] for run in platform.get("/api/v1/runs", learner=email)["runs"]]


def test_a_teacher_sees_only_the_learners_of_their_classes_on_every_page(
        rostered: PlatformProcess) -> None:
    """Okoro teaches Grade 3 Math: Ada (by e-mail), Chloe (e-mail in another case) and Aiko.
    Ben, Farid (linked by actor id only), Kira and the outsider are in other classes or none."""
    username = _account(rostered, "--teacher", "t-okoro")
    mine = {name for name, who in LEARNERS.items() if who.class_id == "cls-math3-maple"}
    others = set(LEARNERS) - mine
    assert mine == {"ada", "chloe", "aiko"} and "farid" in others
    hidden = [LEARNERS[name].email for name in others]
    # their roster ids too (pages about classes show them), and the other classes' students
    hidden_ids = (_students_of("cls-math4-maple") | _students_of("cls-span-cedar")) - \
        _students_of("cls-math3-maple")
    seeds = {"/", "/classes", "/overview", "/learners", "/courses", "/flags", "/integration",
             "/events", "/data/events", "/admin/accounts", "/classes/cls-math4-maple",
             "/classes/cls-span-cedar", "/learners?q=ben"}
    for name in others - {"outsider"}:
        seeds.add(f"/learners/{quote(LEARNERS[name].email)}")
        seeds.update(f"/runs/{run_id}" for run_id in _run_ids(rostered, LEARNERS[name].email))
    seeds.add(f"/runs/{_run_ids(rostered, LEARNERS['outsider'].email)[0]}")
    seen_ok: set[str] = set()
    with _signed_in(rostered, username) as client:
        queue, visited = sorted(seeds), set()
        while queue:
            path = queue.pop()
            if path in visited:
                continue
            visited.add(path)
            assert len(visited) <= MAX_PAGES, "the crawl did not end"
            reply = client.get(path)
            assert reply.status_code in (200, 403, 404), (path, reply.status_code)
            text = reply.text
            for email in hidden:
                assert email not in text.lower(), (path, email)
            for sourced_id in hidden_ids:
                assert not re.search(rf"\b{sourced_id}\b", text), (path, sourced_id)
            if reply.status_code == 200:
                seen_ok.add(path)
                if "text/html" in reply.headers.get("content-type", ""):
                    queue.extend(_same_site_links(text, str(reply.url)) - visited)
    # what the teacher does see: their class, each of their learners' own pages, and the
    # downloads those pages offer (CSV exports walked like pages)
    assert "/classes/cls-math3-maple" in seen_ok
    assert any(path.split("?")[0].endswith(".csv") for path in seen_ok), sorted(seen_ok)
    for name in mine:
        assert f"/learners/{quote(LEARNERS[name].email)}" in seen_ok, name
    for path in ("/learners/" + quote(LEARNERS["ben"].email), "/classes/cls-math4-maple",
                 "/admin/accounts"):
        assert path not in seen_ok, path


def test_the_class_page_lists_a_teachers_students_with_their_learners(
        rostered: PlatformProcess) -> None:
    username = _account(rostered, "--teacher", "t-brandt")
    with _signed_in(rostered, username) as client:
        refused = client.get("/admin/accounts")  # an admin's page: refused, pointing onwards
        assert refused.status_code == 403
        assert '<a class="button" href="/classes">' in refused.text
        classes = client.get("/classes").text
        assert 'data-class="cls-math4-maple"' in classes
        assert 'data-class="cls-math3-maple"' not in classes
        page = client.get("/classes/cls-math4-maple").text
    rows = re.findall(r'<tr data-student="([^"]+)"(?: data-learner="([^"]+)")?', page)
    assert {sid for sid, _ in rows} == _students_of("cls-math4-maple")
    learners = {sid: email for sid, email in rows if email}
    # Ben by e-mail; Farid has no e-mail in the roster: his actor id ends in /users/s1005
    assert learners == {"s1001": LEARNERS["ben"].email, "s1005": LEARNERS["farid"].email}


def test_an_admin_sees_every_class_and_learner(rostered: PlatformProcess) -> None:
    username = _account(rostered)
    with _signed_in(rostered, username) as client:
        classes = client.get("/classes").text
        assert all(f'data-class="{c}"' in classes
                   for c in ("cls-math3-maple", "cls-math4-maple", "cls-span-cedar"))
        assert client.get("/classes/cls-span-cedar").status_code == 200
        learners = client.get("/learners").text.lower()
    assert all(who.email in learners for who in LEARNERS.values())


def test_the_accounts_form_links_and_unlinks_a_teacher(rostered: PlatformProcess) -> None:
    admin = _account(rostered)
    other = _account(rostered)
    with _signed_in(rostered, admin) as client:
        page = client.get("/admin/accounts")
        assert page.status_code == 200 and f'data-account="{other}"' in page.text
        token = _csrf(page.text)
        saved = client.post("/admin/accounts/teacher", data={
            "csrf_token": token, "username": other, "teacher": "t-ferreira"})
        assert saved.status_code == 303
        refused = client.post("/admin/accounts/teacher", data={
            "csrf_token": token, "username": other, "teacher": "s1000"})
        assert refused.status_code == 400
        assert "not an active teacher" in refused.text
    with _signed_in(rostered, other) as client:
        assert client.get("/learners/" + quote(LEARNERS["kira"].email)).status_code == 200
        assert client.get("/learners/" + quote(LEARNERS["ada"].email)).status_code == 403
        assert client.get("/admin/accounts").status_code == 403
    with _signed_in(rostered, admin) as client:
        token = _csrf(client.get("/admin/accounts").text)
        assert client.post("/admin/accounts/teacher", data={
            "csrf_token": token, "username": other, "teacher": ""}).status_code == 303
    with _signed_in(rostered, other) as client:  # an admin again: sees everyone
        assert client.get("/learners/" + quote(LEARNERS["ada"].email)).status_code == 200


@pytest.mark.parametrize(("teacher", "message"), [
    ("nobody", "No roster user 'nobody'"),
    ("s1000", "Roster user 's1000' is not an active teacher"),
])
def test_admin_create_refuses_a_teacher_not_in_the_roster(
        rostered: PlatformProcess, teacher: str, message: str) -> None:
    reply = run_cli("admin", "create", f"user-{uuid.uuid4().hex[:8]}", "--password-stdin",
                    "--teacher", teacher, *rostered.db_args(), input_text=PASSWORD + "\n",
                    check=False)
    assert reply.returncode == 1
    assert message in reply.stderr


def _class_rows(html: str) -> set[str]:
    return set(re.findall(r'<tr data-learner="([^"]+)"', html))


def test_the_class_home_filters_by_roster_class(rostered: PlatformProcess) -> None:
    """The dashboard's class view with class=: an admin any class, a teacher only theirs."""
    def expected(class_id: str) -> set[str]:
        return {who.email for who in LEARNERS.values() if who.class_id == class_id}

    with httpx.Client(base_url=rostered.base_url, timeout=30) as open_dashboard:  # loopback
        for class_id in ("cls-math3-maple", "cls-math4-maple", "cls-span-cedar"):
            page = open_dashboard.get("/", params={"class": class_id})
            assert page.status_code == 200
            assert _class_rows(page.text) == expected(class_id), class_id
            assert f'<option value="{class_id}" selected>' in page.text
        everyone = _class_rows(open_dashboard.get("/").text)
        assert LEARNERS["outsider"].email in everyone
    username = _account(rostered, "--teacher", "t-okoro")
    with _signed_in(rostered, username) as client:
        assert _class_rows(client.get("/").text) == expected("cls-math3-maple")
        mine = client.get("/", params={"class": "cls-math3-maple"})
        assert _class_rows(mine.text) == expected("cls-math3-maple")
        assert 'value="cls-math4-maple"' not in mine.text  # not offered to choose
        other = client.get("/", params={"class": "cls-math4-maple"})
        assert other.status_code == 400
        assert not _class_rows(other.text)


def test_a_teacher_shares_links_with_their_own_learners_only(rostered: PlatformProcess) -> None:
    username = _account(rostered, "--teacher", "t-okoro")
    with _signed_in(rostered, username) as client:
        page = client.get("/learners/" + quote(LEARNERS["ada"].email))
        assert 'id="share-button"' in page.text
        token = _csrf(page.text)
        mine = client.post(f"/learners/{quote(LEARNERS['ada'].email)}/share",
                           data={"csrf_token": token})
        assert mine.status_code == 200 and "/share/" in mine.text
        for name in ("ben", "outsider"):
            other = client.post(f"/learners/{quote(LEARNERS[name].email)}/share",
                                data={"csrf_token": token})
            assert other.status_code == 403
            assert LEARNERS[name].email not in other.text
        unknown = client.post("/learners/nobody%40nowhere.example/share",
                              data={"csrf_token": token})
        assert unknown.status_code == 403  # the same answer as someone else's learner
        assert client.get("/share-links").status_code == 403  # every link: an admin's page
