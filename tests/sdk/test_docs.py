"""The examples of docs/sdk.md run as written, against a real platform."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.platform import PlatformProcess
from tests.support.shared import REPO

DOC = REPO / "docs" / "sdk.md"


def test_sdk_doc_examples_run(platform: PlatformProcess, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in platform.sdk_environment("sdk-docs",
                                                    tmp_path / "outbox.sqlite3").items():
        monkeypatch.setenv(variable, value)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 8
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    enqueued = (namespace["first"], namespace["again"])
    assert enqueued == (True, False)
