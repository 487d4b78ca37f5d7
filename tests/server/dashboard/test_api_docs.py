"""`/api/docs` in real Chromium, offline: Swagger UI from the package lists every operation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.server.dashboard.conftest import platform_only_page
from tests.support.platform import PlatformProcess

pytestmark = pytest.mark.browser

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture
def offline_page(browser: Any) -> Iterator[Any]:
    """A page that may reach the platform only: any other request fails the test."""
    with platform_only_page(browser) as (opened, elsewhere):
        errors: list[str] = []
        opened.on("pageerror", lambda exc: errors.append(str(exc)))
        yield opened
    assert elsewhere == [], "the docs page asked for something off the platform"
    assert errors == []


def test_api_docs_list_every_operation_offline(platform: PlatformProcess,
                                               offline_page: Any) -> None:
    document = httpx.get(platform.base_url + "/openapi.json", timeout=30).json()
    operations = sorted((method.upper(), path) for path, item in document["paths"].items()
                        for method in item if method in METHODS)
    assert ("GET", "/api/v1/learners") in operations
    offline_page.goto(platform.base_url + "/api/docs")
    summaries = offline_page.locator(".opblock .opblock-summary")
    expect(summaries.first).to_be_visible(timeout=20_000)
    expect(summaries).to_have_count(len(operations))
    shown = sorted(
        (block.locator(".opblock-summary-method").inner_text().strip(),
         block.locator(".opblock-summary-path").get_attribute("data-path"))
        for block in summaries.all())
    assert shown == operations
    assert offline_page.title().endswith("API docs")
