"""Web fixtures: Debian's Chromium through Playwright, and React 18 from npm for the React page."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import REACT_DIR

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REACT_PACKAGES = ("react@18", "react-dom@18")


def _missing(reason: str) -> None:
    """Absent browser tooling fails the run in CI and skips (saying why) elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must provide it)")
    print(f"\nskipping browser tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium (Debian's package) for the session; each test opens its own context."""
    executable = shutil.which("chromium")
    if executable is None:
        _missing("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (Python) is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def react_modules() -> Path:
    """node_modules holding React 18's UMD builds (installed once with npm, git-ignored)."""
    modules = REACT_DIR / "node_modules"
    wanted = [modules / "react" / "umd" / "react.development.js",
              modules / "react-dom" / "umd" / "react-dom.development.js"]
    if all(path.is_file() for path in wanted):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm is not installed (needed to install react@18 for the React page test)")
    REACT_DIR.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(npm), "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
         "--prefix", str(REACT_DIR), *REACT_PACKAGES],
        capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0 or not all(path.is_file() for path in wanted):
        _missing(f"npm install {' '.join(REACT_PACKAGES)} failed: {result.stderr[-500:]}")
    return modules
