"""Accessibility on every page (signed in, the demo school): axe-core finds nothing serious or
critical; a skip link leads to the content; headings go down one level at a time; every control
shows where the focus is."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.server.dashboard.demo_pages import (  # noqa: F401 (fixture)
    DESKTOP,
    PHONE,
    every_page,
    school,
    shared_view_page,
    signed_in_page,
)
from tests.support.browser import browser, missing_tool  # noqa: F401 (fixture)
from tests.support.platform import PlatformProcess

# What a browser shows of a page (this file's checks) does not depend on the store: one
# backend. test_pages.py reads the pages' figures against the API on both.
pytestmark = [pytest.mark.browser, pytest.mark.backends("sqlite")]

AXE = Path(__file__).resolve().parent / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
# What axe reports, short: [rule, impact, help, the first few offending elements].
AXE_RUN_JS = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => [v.id, v.impact, v.help,
    v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' ' + (n.failureSummary || ''))]);
}"""


def _axe_violations(page: Any) -> list[list[Any]]:
    if not AXE.exists():
        missing_tool("axe-core is not installed (scripts/install-test-deps.sh)")
    page.add_script_tag(path=str(AXE))  # the context bypasses the CSP for this script alone
    found: list[list[Any]] = page.evaluate(AXE_RUN_JS)
    return found


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_axe_finds_nothing_serious_on_any_page(
        browser: Any, school: PlatformProcess, viewport: dict[str, int]) -> None:  # noqa: F811
    with signed_in_page(browser, school, viewport, bypass_csp=True) as page:
        problems = {}
        for path in every_page(page, school):
            page.goto(school.base_url + path)
            page.wait_for_load_state("networkidle")
            serious = [v for v in _axe_violations(page) if v[1] in ("serious", "critical")]
            if serious:
                problems[path] = serious
        assert problems == {}, json.dumps(problems, indent=1)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_axe_finds_nothing_serious_on_a_learners_shared_pages(
        browser: Any, school: PlatformProcess, viewport: dict[str, int]) -> None:  # noqa: F811
    with shared_view_page(browser, school, viewport, bypass_csp=True) as (page, paths):
        problems = {}
        for path in paths:
            page.goto(school.base_url + path)
            page.wait_for_load_state("networkidle")
            serious = [v for v in _axe_violations(page) if v[1] in ("serious", "critical")]
            if serious:
                problems[path] = serious
        assert problems == {}, json.dumps(problems, indent=1)


# Heading levels in document order, and for each focusable control whether focusing it from the
# keyboard draws an outline (or a box shadow) it did not have before.
HEADINGS_JS = """() => Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6'))
  .filter(h => h.checkVisibility()).map(h => Number(h.tagName[1]))"""
CONTROLS_JS = """() => Array.from(document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary'))
  .filter(el => el.checkVisibility({visibilityProperty: true}))
  .map((el, index) => { el.setAttribute('data-focus-check', String(index));
    return String(index); })"""
FOCUS_RING_JS = """el => { const s = getComputedStyle(el);
  return el.matches(':focus-visible') && ((s.outlineStyle !== 'none'
    && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none'); }"""


def test_skip_link_headings_and_focus_on_every_page(
        browser: Any, school: PlatformProcess) -> None:  # noqa: F811
    with signed_in_page(browser, school, DESKTOP) as page:
        for path in every_page(page, school):
            page.goto(school.base_url + path)
            page.wait_for_load_state("networkidle")
            levels = page.evaluate(HEADINGS_JS)
            assert levels[0] == 1 and levels.count(1) == 1, (path, levels)
            assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), (
                path, levels)
            page.keyboard.press("Tab")  # the first stop is the skip link, shown when focused
            skip = page.locator(".skip-link")
            assert page.evaluate("document.activeElement.className") == "skip-link", path
            box = skip.bounding_box()
            assert box is not None and box["width"] > 50, path
            page.keyboard.press("Enter")
            assert page.evaluate("document.activeElement.id") == "main", path
            unringed = []
            for index in page.evaluate(CONTROLS_JS)[:60]:
                control = page.locator(f"[data-focus-check='{index}']")
                page.evaluate("document.activeElement && document.activeElement.blur()")
                control.focus()
                page.keyboard.press("Shift")  # focus from the keyboard: :focus-visible holds
                if not control.evaluate(FOCUS_RING_JS):
                    unringed.append(control.evaluate("el => el.outerHTML.slice(0, 120)"))
            assert unringed == [], (path, unringed)
