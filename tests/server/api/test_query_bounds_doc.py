"""docs/bounds.md's table of the query API's bounds agrees with the code: each parameter's bound
with what `/openapi.json` declares for it, the others with their constants; and every list route
(a GET with a `limit`) is in the table."""

from __future__ import annotations

import re
from typing import Any

from tests.support.platform import PlatformProcess
from tests.support.shared import REPO
from timeledger.server.queries import MAX_EXPORT_RESULTS, MAX_SUMMARY_DAYS
from timeledger.server.queries import oneroster_collection as collection
from timeledger.server.queries.class_view import MAX_RANGE_DAYS
from timeledger.server.queries.page_cursor import MAX_CURSOR_CHARS

DOC = REPO / "docs" / "bounds.md"


def table() -> dict[str, str]:
    """The table's rows: the first cell (route and parameter) -> the bound."""
    section = DOC.read_text().split("## The query API's bounds", 1)[1].split("\n## ", 1)[0]
    return {cells[0]: cells[1] for line in section.splitlines() if line.startswith("| ")
            if (cells := [cell.strip() for cell in line.strip("|").split("|")])[0]
            not in ("route and parameter", "---")}


def number(text: str) -> int:
    return int(text.replace(",", ""))


def schema_of(spec: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    (found,) = [p["schema"] for p in spec["paths"][path]["get"]["parameters"]
                if p["name"] == name]
    for option in found.get("anyOf", [found]):  # `X | None`: the X
        if option.get("type") != "null":
            return {**option, **({"default": found["default"]} if "default" in found else {})}
    raise AssertionError(found)


def test_the_bounds_table_agrees_with_the_openapi_document(platform: PlatformProcess) -> None:
    with platform.http() as client:
        spec = client.get("/openapi.json").json()
    rows = table()
    declared = 0
    for first, bound in rows.items():
        route = re.fullmatch(r"`GET (/\S+)` `(\w+)`(?: \(repeatable\))?", first)
        if route is None:
            continue
        schema = schema_of(spec, *route.groups())
        if found := re.fullmatch(r"([\d,]+)\.\.([\d,]+), default ([\d,]+)", bound):
            low, high, default = map(number, found.groups())
            assert (schema["minimum"], schema["maximum"], schema["default"]) == (
                low, high, default), first
        elif found := re.fullmatch(r"at most ([\d,]+) characters", bound):
            assert schema["maxLength"] == number(found[1]), first
        elif found := re.fullmatch(r"at most ([\d,]+)", bound):
            assert schema["maxItems"] == number(found[1]), first
        else:
            continue
        declared += 1
    assert declared >= 10

    listed = {re.fullmatch(r"`GET (/\S+)` `limit`", first)[1]  # type: ignore[index]
              for first in rows if re.fullmatch(r"`GET (/\S+)` `limit`", first)}
    with_limit = {path for path, item in spec["paths"].items()
                  if "get" in item and not path.startswith("/ims/")
                  and any(p["name"] == "limit" for p in item["get"].get("parameters", []))}
    assert with_limit == listed  # every list route of ours is in the table (OneRoster's below)
    with_after = {path for path in with_limit if path.startswith("/api/v1/")}
    for path in with_after:
        assert schema_of(spec, path, "after")["maxLength"] == MAX_CURSOR_CHARS, path
    (after_row,) = [bound for first, bound in rows.items() if first.startswith("`after`")]
    assert f"at most {MAX_CURSOR_CHARS} characters" in after_row


def test_the_bounds_without_a_schema_agree_with_their_constants() -> None:
    rows = table()
    summary = rows["`GET /api/v1/learners/{learner}/summary` `from`..`to`"]
    assert summary.startswith(f"at most {MAX_SUMMARY_DAYS} days")
    assert rows["`GET /api/v1/class` `from`..`to`"].startswith(f"at most {MAX_RANGE_DAYS} days")
    (downloads,) = [bound for first, bound in rows.items() if "gradebook downloads" in first]
    assert downloads == f"at most {MAX_EXPORT_RESULTS:,} results"
    (oneroster,) = [bound for first, bound in rows.items() if first.startswith("OneRoster")]
    assert oneroster == (f"`limit` 1..{collection.MAX_LIMIT}, default "
                         f"{collection.DEFAULT_LIMIT}; `offset` 0..{collection.MAX_OFFSET:,}")
