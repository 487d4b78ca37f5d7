"""Envelopes written together in one transaction give each its own job and the same projections."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from tests.server.pipeline.test_rebuild import Stream, snapshot
from tests.support.ledger_world import Ledger, at, heartbeat, new_run, resend
from tests.support.postgres import Backend
from timeledger.server.store.projection_tables import run_windows


@pytest.fixture
def ledger(tmp_path: Path, backend: Backend) -> Ledger:
    return Ledger(tmp_path, db_url=backend.new_db_url())


def test_a_resend_and_a_conflict_inside_one_group_are_answered_per_envelope(
        ledger: Ledger) -> None:
    run = new_run()
    first = heartbeat("ann@example.edu", run, at("2025-01-13T10:00:00"), 15)
    second = heartbeat("ann@example.edu", run, at("2025-01-13T10:00:15"), 15)
    changed = {**second, "eventTime": "2025-01-13T10:00:31.000Z"}
    same_window = resend(first)  # a new event id for a window already in this group

    jobs = ledger.send_together([first, second], [dict(first)], [changed, same_window])

    assert len({job.job_id for job in jobs}) == 3
    assert [[r.status for r in job.results] for job in jobs] == [
        ["stored", "stored"], ["duplicate"], ["conflict", "duplicate_window"]]
    assert [(w["window_key"], w["active_ms"]) for w in ledger.rows(run_windows)] == [
        ("s:2025-01-13T10:00:00.000Z", 15000), ("s:2025-01-13T10:00:15.000Z", 15000)]
    ledger.close()


def test_a_random_stream_gives_the_same_projections_grouped_or_one_by_one(
        tmp_path: Path, backend: Backend) -> None:
    rng = random.Random(11)
    stream = Stream(rng)
    events: list[dict[str, Any]] = []
    while len(events) < 400:
        events += stream.next_events()
    envelopes: list[list[dict[str, Any]]] = []
    cursor = 0
    while cursor < len(events):
        size = rng.choice((1, 3, 8, 20))
        envelopes.append(events[cursor:cursor + size])
        cursor += size
    for name in ("single", "grouped"):
        (tmp_path / name).mkdir()
    one_by_one = Ledger(tmp_path / "single", db_url=backend.new_db_url())
    grouped = Ledger(tmp_path / "grouped", db_url=backend.new_db_url())
    try:
        single_statuses = [[r.status for r in one_by_one.send(*e).results] for e in envelopes]
        grouped_statuses: list[list[str]] = []
        cursor = 0
        while cursor < len(envelopes):
            size = rng.choice((2, 5, 13))
            jobs = grouped.send_together(*envelopes[cursor:cursor + size])
            grouped_statuses += [[r.status for r in job.results] for job in jobs]
            cursor += size

        assert grouped_statuses == single_statuses
        assert {"duplicate", "conflict", "duplicate_window"} <= {
            status for statuses in single_statuses for status in statuses}
        assert snapshot(grouped) == snapshot(one_by_one)
    finally:
        one_by_one.close()
        grouped.close()
