"""docs/oneroster.md's shell blocks run as written, in order, against a platform of their own."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from typing import Any

from tests.support.platform import PlatformProcess
from tests.support.shared import REPO

ROOT = REPO
DOC = ROOT / "docs" / "oneroster.md"
MARK = "=== block "


def _json_lines(text: str) -> list[Any]:
    """The JSON objects in a block's output (curl prints each without a newline after it)."""
    decoder, found, at = json.JSONDecoder(), [], text.find("{")
    while at != -1:
        value, end = decoder.raw_decode(text, at)
        found.append(value)
        at = text.find("{", end)
    return found


def test_the_oneroster_doc_runs(make_platform: Callable[..., PlatformProcess]) -> None:
    platform = make_platform()
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S)
    script = "\n".join(f"echo '{MARK}{n}'\n{block}" for n, block in enumerate(blocks))
    store = {"TIMELEDGER_DB": platform.db_url} if platform.db_url else {
        "TIMELEDGER_DATA_DIR": str(platform.data_dir)}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace("http://127.0.0.1:8000",
                                                          platform.base_url)],
        cwd=ROOT, env={"PATH": os.environ["PATH"], **store}, capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stderr
    out = dict(re.findall(rf"{MARK}(\d+)\n(.*?)(?={MARK}|\Z)", done.stdout, flags=re.S))
    assert len(out) == len(blocks) == 6
    assert "60 active students" in out["0"]
    [found] = _json_lines(out["1"])
    assert [user["sourcedId"] for user in found["users"]] == ["s1002"]
    headers = out["2"].lower()
    assert "x-total-count: 60" in headers and 'rel="next"' in headers
    roll, teachers, changed = _json_lines(out["2"])
    assert len(roll["users"]) == 20
    assert [e["user"]["sourcedId"] for e in teachers["enrollments"]] == ["t-ferreira"]
    assert len(changed["users"]) == 63
    [error] = _json_lines(out["3"])
    assert error["imsx_CodeMinor"] == {"imsx_codeMinorField": [{
        "imsx_codeMinorFieldName": "TargetEndSystem",
        "imsx_codeMinorFieldValue": "invalid_filter_field"}]}
    assert "created" in out["4"]
    [view] = _json_lines(out["5"])
    assert view["learners"] == []  # the class's students have no activity on this platform
