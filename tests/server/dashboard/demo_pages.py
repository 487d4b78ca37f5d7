"""The demo school behind a sign-in, and every page of its dashboard, for the checks that run on
all pages (phone layout, accessibility, page weight)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest

from tests.server.dashboard.conftest import ADMIN, DEMO_STARTUP_DEADLINE_S, platform_only_page
from tests.support.platform import PlatformProcess, run_cli
from tests.support.postgres import Backend

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def school(backend: Backend, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[PlatformProcess]:
    """`serve --demo --require-login` with one admin: the demo as a teacher signs in to it."""
    running = PlatformProcess(tmp_path_factory.mktemp("school"), db_url=backend.new_db_url(),
                              extra_args=["--demo", "--require-login"],
                              startup_deadline=DEMO_STARTUP_DEADLINE_S)
    # The admin first (the demo fills a store without events; an admin is not one), so the CLI
    # never waits on the demo's writes.
    created = run_cli("admin", "create", ADMIN[0], "--password-stdin", *running.db_args(),
                      input_text=ADMIN[1] + "\n")
    assert "created" in created.stdout, created.stderr
    running.admin_credentials()  # the query API's client, made before the demo writes too
    running.start()
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def signed_in_page(browser: Any, platform: PlatformProcess, viewport: dict[str, int], *,
                   bypass_csp: bool = False) -> Iterator[Any]:
    """A page signed in as the admin, in a fresh context that may reach the platform only."""
    with platform_only_page(browser, viewport, bypass_csp=bypass_csp) as (page, elsewhere):
        page.goto(platform.base_url + "/login")
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", ADMIN[1])
        page.click("#login-form button")
        page.wait_for_selector("#sign-out")
        yield page
    assert elsewhere == [], "the dashboard asked for something off the platform"


def every_page(page: Any, platform: PlatformProcess) -> list[str]:
    """The paths of every kind of page: each one the main navigation links to, a roster class,
    a heatmap cell's runs (a learner's runs of one activity), a learner (the one with most runs),
    one of their runs, a course, and a page that does not exist."""
    page.goto(platform.base_url + "/")
    paths = page.locator(".mainnav a").evaluate_all(
        "links => links.map(a => new URL(a.href).pathname + new URL(a.href).search)")
    learners = platform.get("/api/v1/learners")["learners"]
    busiest = max(learners, key=lambda row: (row["totals"]["runs"], row["email"]))["email"]
    run = platform.get("/api/v1/runs", learner=busiest, limit=1)["runs"][0]["run_id"]
    course = sorted(c["course_id"] for c in platform.get("/api/v1/courses")["courses"])[0]
    paths += [_first_link(page, platform, "/classes", "main a[href^='/classes/']"),
              _first_link(page, platform, f"/courses/{quote(course)}",
                          "main a[href^='/activity-runs?']"),
              f"/learners/{quote(busiest)}", f"/runs/{run}", f"/courses/{quote(course)}",
              "/no-such-page"]
    assert len(paths) >= 9, paths
    return list(dict.fromkeys(paths))



def _first_link(page: Any, platform: PlatformProcess, path: str, selector: str) -> str:
    """Where the first link matching `selector` on the page at `path` goes."""
    page.goto(platform.base_url + path)
    href = page.locator(selector).first.get_attribute("href", timeout=10_000)
    assert href, (path, selector)
    return str(href)


@contextmanager
def shared_view_page(browser: Any, platform: PlatformProcess, viewport: dict[str, int], *,
                     bypass_csp: bool = False) -> Iterator[tuple[Any, list[str]]]:
    """A page holding the session a share link opens (the learner with most runs), in a fresh
    context that may reach the platform only, and the paths that learner may see: their page
    and one of their runs."""
    learners = platform.get("/api/v1/learners")["learners"]
    email = max(learners, key=lambda row: (row["totals"]["runs"], row["email"]))["email"]
    run = platform.get("/api/v1/runs", learner=email, limit=1)["runs"][0]["run_id"]
    link = run_cli("admin", "share-link", email, "--url", platform.base_url,
                   *platform.db_args()).stdout.strip()
    with platform_only_page(browser, viewport, bypass_csp=bypass_csp) as (page, elsewhere):
        page.goto(link)
        page.wait_for_selector("#sign-out")
        yield page, [f"/learners/{quote(email)}", f"/runs/{run}"]
    assert elsewhere == [], "the dashboard asked for something off the platform"
