"""Copy buttons in Chromium: a shortened runId's button puts the whole runId on the clipboard, and
a new share link's button puts the link there (the link then opens the learner's pages)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.browser import browser  # noqa: F401 (fixture)
from tests.support.platform import PlatformProcess

# What a browser shows of a page (this file's checks) does not depend on the store: one
# backend. test_pages.py reads the pages' figures against the API on both.
pytestmark = [pytest.mark.browser, pytest.mark.backends("sqlite")]

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def clipboard_page(browser: Any, demo: PlatformProcess) -> Iterator[Any]:  # noqa: F811
    """A page allowed to read what the dashboard writes to the clipboard."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=demo.base_url)
    try:
        yield context.new_page()
    finally:
        context.close()


def _busiest(demo: PlatformProcess) -> str:
    learners = demo.get("/api/v1/learners")["learners"]
    return str(max(learners, key=lambda row: (row["totals"]["runs"], row["email"]))["email"])


def test_a_short_run_id_copies_whole(clipboard_page: Any, demo: PlatformProcess) -> None:
    page = clipboard_page
    email = _busiest(demo)
    page.goto(f"{demo.base_url}/learners/{quote(email)}")
    link = page.locator("a.run-link").first
    shown = link.inner_text()
    assert shown.endswith("…") and len(shown) < 12, shown
    button = page.locator("a.run-link + .copy-button").first
    assert button.is_visible()
    button.click()
    page.wait_for_function("b => b.textContent === 'Copied'", arg=button.element_handle())
    copied = page.evaluate("navigator.clipboard.readText()")
    assert UUID.fullmatch(copied), copied
    assert copied.startswith(shown.rstrip("…"))
    assert copied in {run["run_id"] for run in demo.get("/api/v1/runs", learner=email,
                                                        limit=200)["runs"]}


def test_a_new_share_link_copies_and_opens(clipboard_page: Any, demo: PlatformProcess) -> None:
    page = clipboard_page
    email = _busiest(demo)
    page.goto(f"{demo.base_url}/learners/{quote(email)}")
    page.click("#share-button")
    button = page.locator("[data-copy=share-url]")
    button.click()
    page.wait_for_function("b => b.textContent === 'Copied'", arg=button.element_handle())
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#share-url").input_value()
    with httpx.Client(timeout=30, follow_redirects=True) as student:
        opened = student.get(copied)
    assert opened.status_code == 200 and opened.url.path == f"/learners/{email}"
