"""The examples of docs/bounds.md run as written, and print what their comments say."""

from __future__ import annotations

import re

import pytest

from tests.support.shared import REPO

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast

DOC = REPO / "docs" / "bounds.md"


def test_bounds_doc_examples_run_and_print_what_they_say(
        capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})
        printed = capsys.readouterr().out.splitlines()
        assert printed == re.findall(r"print\(.*\)\s+# (.*)", block)
