"""Reading a paged list of the query API whole: its pages through `next`, one after another."""

from __future__ import annotations

from typing import Any

from tests.support.platform import PlatformProcess

MAX_PAGES = 1000  # a cursor that never ends is a bug, not a long list


def every_row(platform: PlatformProcess, path: str, name: str,
              **params: Any) -> list[dict[str, Any]]:
    """The rows of the list `name` on every page of `path` (e.g. /api/v1/learners)."""
    page = platform.get(path, **params)
    rows: list[dict[str, Any]] = list(page[name])
    for _ in range(MAX_PAGES):
        if page["next"] is None:
            return rows
        page = platform.get(path, **params, after=page["next"])
        rows += page[name]
    raise AssertionError(f"{path}: more than {MAX_PAGES} pages")
