"""bench/adapter.py runs (briefly) and ends with its one-line summary."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.shared import REPO


def test_the_adapter_benchmark_reports_both_rates_and_their_ratio() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "adapter.py"), "--seconds", "0.3", "--rounds", "1",
         "--clients", "1"],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r".* \d+ windows answered 204, all in the outbox", lines[-2])
    found = re.fullmatch(r"heartbeat_rps=(\d+) noop_rps=(\d+) ratio=(\d+\.\d\d)", lines[-1])
    assert found is not None, lines[-1]
    heartbeat, noop, ratio = int(found[1]), int(found[2]), float(found[3])
    assert heartbeat > 0 and noop > 0
    assert abs(ratio - heartbeat / noop) < 0.01 + 1 / noop
