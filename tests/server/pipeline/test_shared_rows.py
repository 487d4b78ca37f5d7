"""Ingests of different learners in one activity do not queue behind each other on PostgreSQL,
and shared rows keep their first sighting."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.ledger_world import (
    WAIT_S,
    HeldCommit,
    Ledger,
    activity,
    at,
    completion,
    heartbeat,
    new_run,
)
from timeledger.server.store.projection_tables import courses, learners

if TYPE_CHECKING:
    from tests.support.postgres import Backend

LESSON = activity("fractions-1", "math-g3")


@pytest.fixture
def ledgers(backend: Backend, tmp_path: Path) -> Iterator[tuple[Ledger, Ledger]]:
    """Two platforms (two engines, as two ingest processes have) on one database."""
    url = backend.new_db_url()
    first, second = Ledger(tmp_path, db_url=url), Ledger(tmp_path, db_url=url)
    yield first, second
    second.close()
    first.close()


def _event(kind: str, email: str, when: datetime) -> dict[str, Any]:
    if kind == "window":
        return heartbeat(email, new_run(), when, 15, act=LESSON)
    return completion(email, new_run(), when, 3, total=4, correct=3, act=LESSON)


@pytest.mark.backends("pg")  # SQLite has one writer at a time by design
@pytest.mark.parametrize("kind", ["window", "completion"])
def test_a_held_ingest_does_not_stop_another_learner_in_the_same_activity(
        kind: str, ledgers: tuple[Ledger, Ledger]) -> None:
    slow, quick = ledgers
    start = at("2026-11-20T10:00:00")
    slow.send(_event(kind, "ann@example.edu", start))  # the course and line item exist

    held = HeldCommit(slow.platform.engine)  # an append, held just before it commits
    writer = threading.Thread(target=slow.append, args=(
        _event(kind, "ann@example.edu", start.replace(hour=11)),))
    writer.start()
    assert held.reached.wait(WAIT_S)
    other = threading.Thread(target=quick.append, args=(
        _event(kind, "bob@example.edu", start.replace(hour=12)),))
    other.start()
    other.join(WAIT_S)
    finished_while_held = not other.is_alive()
    held.release.set()
    writer.join(WAIT_S)
    other.join(WAIT_S)
    assert finished_while_held  # it took no lock the held transaction holds
    quick.platform.project_pending()  # the projector takes both once the held one committed
    assert [row["email"] for row in quick.rows(learners)] == ["ann@example.edu",
                                                             "bob@example.edu"]


def test_the_course_row_keeps_its_first_sighting_and_first_name(
        ledgers: tuple[Ledger, Ledger]) -> None:
    ledger, _ = ledgers
    late, early = at("2026-11-20T10:00:00"), at("2026-11-19T09:00:00")
    ledger.send(heartbeat("ann@example.edu", new_run(), late, 15, act=LESSON))
    renamed = activity("fractions-2", "math-g3")
    object.__setattr__(renamed, "course_name", "Another Name")
    ledger.send(completion("bob@example.edu", new_run(), early, 3, act=renamed))
    [row] = ledger.rows(courses)
    assert row["first_seen"] == early  # an older event moves the first sighting back
    assert row["name"] == LESSON.course_name  # and the name first stored stays
