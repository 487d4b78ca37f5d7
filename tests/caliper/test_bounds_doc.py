"""The examples of docs/bounds.md run as written, and print what their comments say."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.shared import REPO

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast

DOC = REPO / "docs" / "bounds.md"


def test_bounds_doc_examples_run_and_print_what_they_say() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        ran = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                             timeout=60, check=False)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.splitlines() == re.findall(r"print\(.*\)\s+# (.*)", block)
