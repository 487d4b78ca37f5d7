"""Every page on a phone (390×844, signed in, the demo school): the navigation and Sign out in
view, and nothing wider than the screen."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.dashboard.conftest import screenshot
from tests.server.dashboard.demo_pages import (  # noqa: F401 (fixture)
    PHONE,
    every_page,
    school,
    shared_view_page,
    signed_in_page,
)
from tests.support.browser import browser  # noqa: F401 (fixture)
from tests.support.platform import PlatformProcess

# What a browser shows of a page (this file's checks) does not depend on the store: one
# backend. test_pages.py reads the pages' figures against the API on both.
pytestmark = [pytest.mark.browser, pytest.mark.backends("sqlite")]

# Every rendered element that reaches past either edge of the viewport, and the page's width.
OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > width + 0.5 || box.left < -0.5) {
      wide.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.getAttribute('class')}`
                + ` ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, wide: wide};
}"""


def _in_view(page: Any, selector: str) -> list[bool]:
    """For each element: shown and inside the viewport's width."""
    shown: list[bool] = page.locator(selector).evaluate_all(
        """els => els.map(el => { const b = el.getBoundingClientRect();
             return b.width > 0 && b.height > 0 && b.left >= 0 && b.right <= innerWidth
               && getComputedStyle(el).visibility !== 'hidden'; })""")
    return shown


def test_every_page_fits_a_phone(browser: Any, school: PlatformProcess) -> None:  # noqa: F811
    with signed_in_page(browser, school, PHONE) as page:
        paths = every_page(page, school)
        for path in paths:
            page.goto(school.base_url + path)
            page.wait_for_load_state("networkidle")
            layout = page.evaluate(OVERFLOW_JS)
            assert layout["innerWidth"] == PHONE["width"]
            assert layout["scrollWidth"] <= layout["innerWidth"], (path, layout)
            assert layout["wide"] == [], (path, layout["wide"])
            if path == "/no-such-page":  # the error page links home instead of the menu
                assert _in_view(page, "main a[href='/']") == [True]
            else:
                links = _in_view(page, ".mainnav a")
                assert len(links) >= 5 and all(links), (path, links)
                assert _in_view(page, "#sign-out") == [True], path
            screenshot(page, "phone" + path.replace("/", "-").split("?")[0][:60])


def test_a_learners_shared_pages_fit_a_phone(browser: Any, school: PlatformProcess) -> None:  # noqa: F811
    with shared_view_page(browser, school, PHONE) as (page, paths):
        for path in paths:
            page.goto(school.base_url + path)
            page.wait_for_load_state("networkidle")
            layout = page.evaluate(OVERFLOW_JS)
            assert layout["scrollWidth"] <= layout["innerWidth"], (path, layout)
            assert layout["wide"] == [], (path, layout["wide"])
            assert _in_view(page, ".mainnav a") == [True], path  # "My progress"
            assert _in_view(page, "#sign-out") == [True], path
            screenshot(page, "phone-shared" + path.replace("/", "-")[:40])


def test_a_phone_table_is_cards_labelled_by_their_columns(
        browser: Any, school: PlatformProcess) -> None:  # noqa: F811
    with signed_in_page(browser, school, PHONE) as page:
        learner = every_page(page, school)[-4]
        page.goto(school.base_url + learner)
        page.wait_for_load_state("networkidle")
        row = page.locator("#days-table tbody tr[data-date]").first
        labels = row.locator("td").evaluate_all(
            "cells => cells.map(c => getComputedStyle(c, '::before').content)")
        headers = page.locator("#days-table thead th").all_text_contents()
        assert labels == [f'"{header.strip()}"' for header in headers]
        cells = row.locator("td").evaluate_all(
            "cells => cells.map(c => c.getBoundingClientRect().width)")
        assert min(cells) > PHONE["width"] * 0.8  # one cell a line: a card, not a squeezed row
