"""The XP-above-focused-minutes flag tolerates an app's rounding of XP (docs/pipeline.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.ledger_world import Ledger, at, completion, heartbeat, new_run
from tests.support.postgres import Backend
from timeledger.server import queries

ANN = "ann@example.edu"
FOCUSED_S = 4.95 * 60  # 4.95 focused minutes: 5.0 at 0.1 XP, 5 at whole XP


@pytest.fixture
def ledger(tmp_path: Path, backend: Backend) -> Iterator[Ledger]:
    built = Ledger(tmp_path, db_url=backend.new_db_url())
    yield built
    built.close()


def flagged(ledger: Ledger, run_id: str) -> bool:
    found = ledger.read(queries.list_flags, run_id=run_id, kind="xp_above_focused_minutes")
    return bool(found)


def run_reporting(ledger: Ledger, xp: float, focused_s: float = FOCUSED_S) -> str:
    run_id = new_run()
    t0 = at("2025-01-13T10:00:00")
    ledger.send(heartbeat(ANN, run_id, t0, focused_s),
                completion(ANN, run_id, t0 + timedelta(seconds=focused_s), xp))
    return run_id


@pytest.mark.parametrize("xp", [4.9, 5.0, 5, 5.1], ids=["tenths-down", "tenths", "whole",
                                                          "tenths-slack"])
def test_an_honest_run_rounded_by_the_app_is_not_flagged(ledger: Ledger, xp: float) -> None:
    assert not flagged(ledger, run_reporting(ledger, xp))


@pytest.mark.parametrize("xp", [5.2, 6, 7])
def test_xp_clearly_above_the_focused_minutes_is_flagged(ledger: Ledger, xp: float) -> None:
    assert flagged(ledger, run_reporting(ledger, xp))


def test_whole_minutes_are_not_rounded_up_further(ledger: Ledger) -> None:
    # Exactly 5 minutes allow 5.1 XP, not 6.1: the rounding is up to the next whole XP only.
    assert not flagged(ledger, run_reporting(ledger, 5.1, focused_s=300))
    assert flagged(ledger, run_reporting(ledger, 6, focused_s=300))
    # One second past 5 minutes rounds up to 6 XP.
    assert not flagged(ledger, run_reporting(ledger, 6, focused_s=301))
