"""docs/oneroster.md's gradebook examples (its `shell` blocks) run as written against a platform
with the sample roster, and answer what the doc shows (but the time the platform stored them)."""

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


def _json_values(text: str) -> list[Any]:
    decoder, found, at = json.JSONDecoder(), [], text.find("{")
    while at != -1:
        value, end = decoder.raw_decode(text, at)
        found.append(value)
        at = text.find("{", end)
    return found


def _without_stored_time(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_stored_time(v) for k, v in value.items() if k != "dateLastModified"}
    if isinstance(value, list):
        return [_without_stored_time(v) for v in value]
    return value


def test_the_gradebook_examples_run_and_answer_as_shown(
        make_platform: Callable[..., PlatformProcess]) -> None:
    platform = make_platform()
    section = DOC.read_text().split("## The gradebook API", 1)[1].split("\n## ", 1)[0]
    pairs = re.findall(r"```shell\n(.*?)```\n```json\n(.*?)```", section, flags=re.S)
    assert len(pairs) == 2
    platform.cli("roster", "import", str(ROOT / "examples" / "oneroster" / "sample"))
    store = {"TIMELEDGER_DB": platform.db_url} if platform.db_url else {
        "TIMELEDGER_DATA_DIR": str(platform.data_dir)}
    marks = [f"echo '=== {n}'\n{block}" for n, (block, _shown) in enumerate(pairs)]
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c",
         "\n".join(marks).replace("http://127.0.0.1:8000", platform.base_url)],
        cwd=ROOT, env={"PATH": os.environ["PATH"], **store}, capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stderr
    outputs = re.split(r"=== \d+\n", done.stdout)[1:]
    for output, (_block, shown) in zip(outputs, pairs, strict=True):
        assert _without_stored_time(_json_values(output)) == \
            _without_stored_time(_json_values(shown))
