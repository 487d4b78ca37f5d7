"""The heaviest page's budget, cold in Chromium: at most 200 KB transferred, nothing to wait for
before the first paint (the stylesheet inline, the one script async), charts drawn by the server
(no chart script; they show with JavaScript off), and an empty store's overview shows how to start
instead of empty charts. The times are measured, not asserted: bench/dashboard_browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.server.dashboard.conftest import ADMIN
from tests.server.dashboard.demo_pages import DESKTOP, every_page, school, signed_in_page  # noqa: F401 (fixture)
from tests.support.browser import browser  # noqa: F401 (fixture)
from tests.support.platform import PlatformProcess
from tests.support.postgres import Backend

# What a browser shows of a page (this file's checks) does not depend on the store: one
# backend. test_pages.py reads the pages' figures against the API on both.
pytestmark = [pytest.mark.browser, pytest.mark.backends("sqlite")]

BUDGET_BYTES = 200 * 1024


def _transferred(page: Any, url: str) -> tuple[int, list[str]]:
    """Bytes on the wire (headers and bodies, as Chromium counts them) to load `url` with the
    cache off, and the URLs of the scripts it ran. The page must wait for nothing before its
    first paint: no stylesheet to fetch, every script async."""
    cdp = page.context.new_cdp_session(page)
    sizes: dict[str, float] = {}
    cdp.on("Network.loadingFinished",
           lambda event: sizes.__setitem__(event["requestId"], event["encodedDataLength"]))
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    page.goto(url)
    page.wait_for_load_state("networkidle")
    scripts: list[str] = page.locator("script").evaluate_all("els => els.map(s => s.src)")
    assert page.locator("script:not([async])").count() == 0, url
    assert page.locator("link[rel=stylesheet]").count() == 0, url
    cdp.detach()
    return int(sum(sizes.values())), scripts


def test_every_page_loads_cold_within_200_kb(browser: Any, school: PlatformProcess) -> None:  # noqa: F811
    with signed_in_page(browser, school, DESKTOP) as page:
        weights = {}
        for path in every_page(page, school):
            weight, scripts = _transferred(page, school.base_url + path)
            weights[path] = weight
            assert [src.rsplit("/", 1)[-1].split("?")[0] for src in scripts] == [
                "dashboard.js"], path
        heaviest = max(weights, key=weights.__getitem__)
        print(f"\nheaviest page {heaviest}: {weights[heaviest]} bytes; {weights}")
        assert weights[heaviest] <= BUDGET_BYTES, weights
        assert weights[heaviest] > 5_000  # a page and its assets were counted


def test_charts_are_drawn_without_javascript(browser: Any, school: PlatformProcess) -> None:  # noqa: F811
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(school.base_url + "/login")
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", ADMIN[1])
        page.click("#login-form button")
        page.goto(school.base_url + "/overview")
        assert page.locator("[data-chart] svg[role=img]").count() == 6
        bars = page.locator("[data-chart] rect[data-date]").evaluate_all(
            "rects => rects.map(r => r.getBoundingClientRect().height)")
        assert len(bars) == 6 * 14 and max(bars) > 100
    finally:
        context.close()


@pytest.fixture(scope="module")
def empty(backend: Backend, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[PlatformProcess]:
    """A platform with no events at all."""
    with PlatformProcess(tmp_path_factory.mktemp("empty"), db_url=backend.new_db_url()) as running:
        yield running


def test_an_empty_store_shows_how_to_start(browser: Any, empty: PlatformProcess) -> None:  # noqa: F811
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.goto(empty.base_url + "/overview")
        assert page.locator("[data-chart]").count() == 0
        panel = page.locator("#getting-started")
        assert "serve --demo" in panel.inner_text()
        assert "clients create" in panel.inner_text()
    finally:
        page.close()
