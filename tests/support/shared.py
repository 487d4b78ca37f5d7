"""Find `../shared` beside the checkout; skip with a reason where it is absent (never in CI)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# TIMELEDGER_SHARED points elsewhere (a test run can name a missing folder to see the skips).
SHARED = Path(os.environ.get("TIMELEDGER_SHARED") or REPO.parent / "shared").resolve()
TIMEBACK_FIXTURES = SHARED / "fixtures" / "timeback"
CALIPER_FIXTURES = SHARED / "conformance" / "caliper-v1p2"


def require_shared() -> Path:
    if SHARED.is_dir():
        return SHARED
    if os.environ.get("CI") == "true":
        pytest.fail(f"shared data missing at {SHARED}; CI must have it beside the checkout")
    pytest.skip(f"shared data not found at {SHARED} (a checkout outside the workplace)")


def timeback_fixture(name: str) -> dict[str, Any]:
    require_shared()
    data: dict[str, Any] = json.loads((TIMEBACK_FIXTURES / name).read_text())
    return data


def timeback_envelope_names() -> list[str]:
    if not TIMEBACK_FIXTURES.is_dir():
        return []
    return sorted(p.name for p in TIMEBACK_FIXTURES.glob("*.json")
                  if "envelope" in p.name)
