"""Debian's Chromium through Playwright: one browser per test module, stopped when it ends.

Playwright's sync API runs an event loop on the main thread while it is open; keeping it to one
module at a time leaves other tests (asyncio.run in the SDK's tests) a thread with no loop.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def missing_tool(reason: str) -> None:
    """Absent browser tooling fails the run in CI and skips (saying why) elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must provide it)")
    print(f"\nskipping browser tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for this module's tests; each test opens its own context."""
    executable = shutil.which("chromium")
    if executable is None:
        missing_tool("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_tool("playwright (Python) is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
