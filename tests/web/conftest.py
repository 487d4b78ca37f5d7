"""Web fixtures: Debian's Chromium through Playwright, and React 18 from npm for the React page."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from web_support import REACT_DIR

from support.browser import browser, missing_tool  # noqa: F401 (fixture)

REACT_PACKAGES = ("react@18", "react-dom@18")




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
        missing_tool("npm is not installed (needed to install react@18 for the React page test)")
    REACT_DIR.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(npm), "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
         "--prefix", str(REACT_DIR), *REACT_PACKAGES],
        capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0 or not all(path.is_file() for path in wanted):
        missing_tool(f"npm install {' '.join(REACT_PACKAGES)} failed: {result.stderr[-500:]}")
    return modules
