"""Dashboard fixtures: a demo platform, a platform that needs sign-in, and Debian's Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.browser import browser, missing_tool  # noqa: F401 (fixture)
from tests.support.platform import PlatformProcess, run_cli
from tests.support.postgres import Backend
from tests.support.shared import REPO
from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    completed_event,
    envelope,
    time_spent_event,
)
from timeledger.caliper.metrics import Metrics

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
ADMIN = ("teacher", "correct horse battery")
SENSOR = "https://app.example"
LEARNERS = ("ada@school.example", "ben@school.example")
DEMO_STARTUP_DEADLINE_S = 120.0


@pytest.fixture(scope="session")
def demo(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    """`timeledger serve --demo`: the dashboard as a first run shows it (open on loopback)."""
    # Filling the demo sends ~10k events through ingest before the server listens; on a busy
    # machine that outlasts the usual start-up deadline.
    running = PlatformProcess(tmp_path_factory.mktemp("demo"), extra_args=["--demo"],
                              db_url=backend.new_db_url(),
                              startup_deadline=DEMO_STARTUP_DEADLINE_S).start()
    try:
        yield running
    finally:
        running.stop()


def seed_two_learners(platform: PlatformProcess) -> dict[str, str]:
    """One completed run for each of two learners, sent through the Caliper API. Returns the
    run id of each learner."""
    now = datetime.now(UTC).replace(microsecond=0)
    activity = ActivityRef(url=f"{SENSOR}/activities/Math/g3/fractions", name="Fractions",
                           subject="Math", app_name="Test app", course_id="Math G3",
                           course_name="Math G3")
    runs: dict[str, str] = {}
    items: list[dict[str, Any]] = []
    for index, email in enumerate(LEARNERS):
        run_id = f"00000000-0000-4000-8000-00000000000{index + 1}"
        runs[email] = run_id
        actor = Learner(email=email).actor("https://sis.example")
        start = now - timedelta(minutes=30)
        for minute in range(10):
            items.append(time_spent_event(
                actor=actor, activity=activity, run_id=run_id,
                started_at=start + timedelta(minutes=minute),
                ended_at=start + timedelta(minutes=minute + 1), active_ms=60_000,
                inactive_ms=0))
        items.append(completed_event(
            actor=actor, activity=activity, run_id=run_id, ended_at=start + timedelta(minutes=10),
            metrics=Metrics(xp_earned=9, total_questions=10, correct_questions=9)))
    reply = platform.send(envelope(SENSOR, items, now))
    assert reply.status_code == 200, reply.text
    return runs


@pytest.fixture(scope="session")
def locked_runs(locked: PlatformProcess) -> dict[str, str]:
    return seed_two_learners(locked)


@pytest.fixture(scope="session")
def locked(backend: Backend,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    """A platform started with `--require-login` and one admin (`locked_runs` adds data)."""
    with PlatformProcess(tmp_path_factory.mktemp("locked"), db_url=backend.new_db_url(),
                         extra_args=["--require-login"]) as running:
        created = run_cli("admin", "create", ADMIN[0], "--password-stdin", *running.db_args(),
                          input_text=ADMIN[1] + "\n")
        assert "created" in created.stdout
        yield running


def share_link(platform: PlatformProcess, email: str, *extra: str) -> str:
    out = run_cli("admin", "share-link", email, "--url", platform.base_url, *extra,
                  *platform.db_args())
    return out.stdout.strip()


@contextmanager
def signed_in(platform: PlatformProcess) -> Iterator[httpx.Client]:
    """An httpx client holding an admin's session cookie."""
    with httpx.Client(base_url=platform.base_url, timeout=30) as client:
        token = csrf_of(client.get("/login").text)
        reply = client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1],
                                            "csrf_token": token, "next": "/"})
        assert reply.status_code == 303, reply.text
        yield client


def csrf_of(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


@pytest.fixture
def console_errors() -> Callable[[Any], list[str]]:
    """Attach to a page; returns the list its console errors and uncaught exceptions fill."""

    def attach(page: Any) -> list[str]:
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return errors

    return attach


# Any URL a browser could fetch that is not the platform under test (on 127.0.0.1).
OFF_PLATFORM = re.compile(r"^(?!https?://127\.0\.0\.1[:/]|data:|blob:|about:)")


@contextmanager
def platform_only_page(chromium: Any, viewport: dict[str, int] | None = None, *,
                       bypass_csp: bool = False) -> Iterator[tuple[Any, list[str]]]:
    """A page in a fresh context that may reach the platform only: every other request is
    refused and listed (the second value), so a test can require the list empty (no CDN)."""
    context = chromium.new_context(viewport=viewport or {"width": 1360, "height": 900},
                                   bypass_csp=bypass_csp)
    elsewhere: list[str] = []

    def refuse(route: Any) -> None:
        elsewhere.append(route.request.url)
        route.abort()

    context.route(OFF_PLATFORM, refuse)
    try:
        yield context.new_page(), elsewhere
    finally:
        context.close()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
