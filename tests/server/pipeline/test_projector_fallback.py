"""A batch whose planning fails because of one event in it: on SQLite it is planned ahead of the
write lock, planned again under the claim, then projected event by event; the event that fails
alone is recorded as unprojectable and passed, and the rest are counted once.

No stored event reaches this path today: read_batch parses every body with the wire rules, and
the bounds they hold (caliper/bounds.py: years 1970-2999, windows of a day, XP, counts and
attempts within a million) leave `prepare` and the plan's reads nothing to overflow or refuse.
So the one failing event is made by our own `prepare` raising for its seq, as an overflow in its
time arithmetic would."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.server.pipeline.test_rebuild import snapshot
from tests.support.ledger_world import Ledger, at, completion, heartbeat, new_run, resend
from tests.support.postgres import Backend
from timeledger.caliper.core.vocabulary import CALIPER_CONTEXT
from timeledger.server.pipeline.calendar import LocalDates
from timeledger.server.pipeline.model import StoredTimebackEvent
from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.prepared import prepare as real_prepare
from timeledger.server.pipeline.projector import UNPROJECTABLE, Projector
from timeledger.server.pipeline.rebuild import rebuild
from timeledger.server.store.log_positions import read_positions
from timeledger.server.store.projection_tables import event_outcomes, runs
from timeledger.server.store.schema import events

START = at("2025-03-03T09:00:00")


def _runs(ledger: Ledger) -> dict[str, tuple[int, int, int, int]]:
    return {row["learner_email"]: (row["active_ms"], row["heartbeats"], row["completions"],
                                   row["xp_milli"]) for row in ledger.rows(runs)}


def _outcomes(ledger: Ledger) -> dict[int, str]:
    return {row["seq"]: row["outcome"] for row in ledger.rows(event_outcomes)}


def _seq_of(ledger: Ledger, event: dict[str, Any]) -> int:
    with ledger.platform.engine.connect() as conn:
        return int(conn.execute(sa.select(events.c.seq).where(
            events.c.event_id == event["id"])).scalar_one())


def test_an_event_whose_planning_fails_is_passed_and_the_rest_of_its_batch_is_counted_once(
        backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = Ledger(tmp_path, db_url=backend.new_db_url())
    try:
        runs_of = {f"p{i}@example.edu": new_run() for i in range(2)}
        windows = [heartbeat(email, run, START + timedelta(seconds=15 * n), 12, 3)
                   for n in range(4) for email, run in runs_of.items()]
        finals = [completion(email, run, START + timedelta(minutes=5), 2, total=4, correct=3)
                  for email, run in runs_of.items()]
        poison = windows[5]  # p1's third window, in the middle of the batch
        # an entity last: on SQLite the batch ends past its last event (no partition on PG)
        person = {"@context": CALIPER_CONTEXT, "id": "https://e.example.com/people/1",
                  "type": "Person"}
        ledger.append(*windows, resend(windows[0]), *finals, person)
        poison_seq = _seq_of(ledger, poison)
        resent_seq = _seq_of(ledger, windows[0]) + len(windows)

        raised: list[int] = []

        def prepare(event: StoredTimebackEvent, dates: LocalDates) -> Prepared:
            if event.seq == poison_seq:
                raised.append(event.seq)
                raise OverflowError("date value out of range")
            return real_prepare(event, dates)

        monkeypatch.setattr("timeledger.server.pipeline.batch_plan.prepare", prepare)
        projector = Projector(ledger.platform.engine, ledger.platform.pipeline_settings,
                              ledger.platform.now)
        # every row passed, in one batch
        assert projector.project_until_caught_up() == (12 if backend.name == "sqlite" else 11)
        # planned ahead (SQLite only), again under the claim, then alone in `_isolate`
        assert raised == [poison_seq] * (3 if backend.name == "sqlite" else 2)
        assert _outcomes(ledger) == {poison_seq: UNPROJECTABLE, resent_seq: "duplicate_window"}
        with ledger.platform.engine.connect() as conn:
            last = conn.execute(sa.select(sa.func.max(events.c.seq))).scalar_one()
            positions = read_positions(conn)
        if backend.name == "sqlite":  # PostgreSQL's partitions have no entities
            assert positions[0].position.seq == last
        else:
            assert max(state.position.seq for state in positions.values()) == poison_seq + 5
        # p1 without its third window; every other window and both completions counted once
        assert _runs(ledger) == {"p0@example.edu": (48_000, 4, 1, 2_000),
                                 "p1@example.edu": (36_000, 3, 1, 2_000)}
        assert projector.project_until_caught_up() == 0

        # The same as a rebuild of the log without the event that could not be projected.
        projected = snapshot(ledger)
        monkeypatch.undo()
        with ledger.platform.engine.begin() as conn:
            conn.execute(events.delete().where(events.c.seq == poison_seq))
        rebuild(ledger.platform.engine, ledger.platform.pipeline_settings)
        rebuilt = snapshot(ledger)
        assert rebuilt.pop(event_outcomes.name) == [{"seq": resent_seq,
                                                     "outcome": "duplicate_window"}]
        assert projected.pop(event_outcomes.name) == [
            {"seq": seq, "outcome": outcome} for seq, outcome in sorted(
                {poison_seq: UNPROJECTABLE, resent_seq: "duplicate_window"}.items())]
        assert projected == rebuilt
    finally:
        ledger.close()
