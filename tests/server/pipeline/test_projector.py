"""The projector: exactly once across failures and kills, jobs complete as it passes them, and on
PostgreSQL several projectors share the log without ever projecting one learner at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.server.pipeline.test_rebuild import snapshot
from tests.support.ledger_world import (
    WAIT_S,
    Ledger,
    _checked,
    at,
    completion,
    heartbeat,
    new_run,
    resend,
)
from tests.support.postgres import Backend
from timeledger.caliper.core.vocabulary import CALIPER_CONTEXT
from timeledger.server.pipeline.job_results import job_status
from timeledger.server.pipeline.projector import (
    QUIET_PASSES_BEFORE_COMPACTION,
    QUIET_PASSES_BEFORE_SLEEPY,
    ParsedBatch,
    Projector,
)
from timeledger.server.pipeline.rebuild import rebuild
from timeledger.server.store.compaction import compacted_through
from timeledger.server.store.database import create_engine
from timeledger.server.store.event_appends import append_rows
from timeledger.server.store.log_positions import read_positions
from timeledger.server.store.partitions import learner_partition, partition_count
from timeledger.server.store.projection_tables import runs
from timeledger.server.store.schema import events

START = at("2025-03-03T09:00:00")


def _append(ledger: Ledger, *batches: list[dict[str, Any]]) -> list[str]:
    """Append without projecting; the job ids."""
    return [ledger.platform.ingestor.ingest(_checked(batch)).job_id for batch in batches]


def _history(learners: int, windows: int) -> list[list[dict[str, Any]]]:
    """Per envelope: one window of every learner's run, then each run's completion at the end;
    plus a resent window and a resent completion (under new ids)."""
    runs_of = {f"p{i}@example.edu": new_run() for i in range(learners)}
    batches: list[list[dict[str, Any]]] = []
    for w in range(windows):
        batches.append([heartbeat(email, run, START + timedelta(seconds=15 * w), 12, 3)
                        for email, run in runs_of.items()])
    finals = [completion(email, run, START + timedelta(minutes=30), 2, total=4, correct=3)
              for email, run in runs_of.items()]
    batches.append(finals)
    batches.append([resend(batches[0][0]), resend(finals[0])])
    return batches


def _projected_runs(ledger: Ledger) -> dict[str, tuple[int, int, int]]:
    return {row["learner_email"]: (row["active_ms"], row["heartbeats"], row["completions"])
            for row in ledger.rows(runs)}


def test_a_batch_that_fails_midway_leaves_nothing_and_is_projected_once_later(
        backend: Backend, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, db_url=backend.new_db_url())
    try:
        _append(ledger, *_history(learners=3, windows=4))
        calls = 0

        def fail_after_writing(_conn: sa.Connection, _batch: ParsedBatch) -> None:
            nonlocal calls
            calls += 1
            raise RuntimeError("the projector died after writing its rows")

        failing = Projector(ledger.platform.engine, ledger.platform.pipeline_settings,
                            ledger.platform.now, after_batch=fail_after_writing)
        with pytest.raises(RuntimeError):
            failing.project_once()
        assert calls == 1
        assert ledger.rows(runs) == []  # the rows it wrote went with its transaction
        with ledger.platform.engine.connect() as conn:
            assert all(s.position.seq == 0 for s in read_positions(conn).values())
        ledger.platform.project_pending()
        # 4 windows of 12 s each per run, counted once; the resent window and completion not
        assert _projected_runs(ledger) == {f"p{i}@example.edu": (48_000, 4, 1) for i in range(3)}
        built = snapshot(ledger)
        rebuild(ledger.platform.engine, ledger.platform.pipeline_settings)
        assert snapshot(ledger) == built
    finally:
        ledger.close()


def test_a_batch_ending_on_an_entity_moves_the_position_past_it(
        backend: Backend, tmp_path: Path) -> None:
    """An entity has no learner (no partition): the batch's position is still its partition's
    (a batch once took the partition of its last row read, so on SQLite a batch ending on an
    entity committed its rows and left the position behind, then failed on them forever)."""
    ledger = Ledger(tmp_path, db_url=backend.new_db_url())
    try:
        window = heartbeat("ada@example.edu", new_run(), START, 12, 3)
        person = {"@context": CALIPER_CONTEXT, "id": "https://e.example.com/people/1",
                  "type": "Person"}
        _append(ledger, [window, person])
        projector = Projector(ledger.platform.engine, ledger.platform.pipeline_settings,
                              ledger.platform.now)
        assert projector.project_once() > 0
        assert projector.project_once() == 0  # nothing left: the position passed both rows
        with ledger.platform.engine.connect() as conn:
            last = conn.execute(sa.select(sa.func.max(events.c.seq))).scalar_one()
            positions = read_positions(conn)
        if backend.name == "sqlite":
            assert positions[0].position.seq == last
        assert _projected_runs(ledger) == {"ada@example.edu": (12_000, 1, 0)}
    finally:
        ledger.close()


def test_a_job_is_waiting_until_projected_then_completed_with_its_outcomes(
        backend: Backend, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, db_url=backend.new_db_url())
    try:
        run = new_run()
        window = heartbeat("ada@example.edu", run, START, 10)
        first, again = _append(ledger, [window], [window, resend(window)])
        waiting = job_status(ledger.platform.engine, first, ledger.platform.now())
        assert waiting is not None and waiting.state == "waiting"
        assert [r["status"] for r in waiting.results] == ["stored"]
        ledger.platform.project_pending()
        done = job_status(ledger.platform.engine, again, ledger.platform.now())
        assert done is not None and done.state == "completed"
        assert [r["status"] for r in done.results] == ["duplicate", "duplicate_window"]
        assert done.processed_on is not None
    finally:
        ledger.close()


def test_a_projector_killed_mid_backlog_resumes_without_skipping_or_double_counting(
        backend: Backend, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, db_url=backend.new_db_url())
    try:
        _append(ledger, *_history(learners=20, windows=60))
        url = ledger.platform.engine.url.render_as_string(hide_password=False)
        command = [sys.executable, "-m", "timeledger", "project", "--db", url]
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            passed = threading.Event()

            def moved() -> bool:
                with ledger.platform.engine.connect() as conn:
                    return any(s.position.seq > 0 for s in read_positions(conn).values())

            for _ in range(WAIT_S * 100):
                if moved():
                    passed.set()
                    break
                passed.wait(0.01)  # a real process getting through its first batch
            assert passed.is_set(), "the projector never committed a batch"
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait()
        with ledger.platform.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
            behind = any(s.position.seq < total for s in read_positions(conn).values())
        assert behind or backend.name == "pg", "the kill came after the whole backlog"
        finished = subprocess.run([*command, "--until-caught-up"], capture_output=True,
                                  text=True, check=True)
        assert "projected" in finished.stdout
        assert _projected_runs(ledger) == {
            f"p{i}@example.edu": (60 * 12_000, 60, 1) for i in range(20)}
        built = snapshot(ledger)
        rebuild(ledger.platform.engine, ledger.platform.pipeline_settings)
        assert snapshot(ledger) == built
    finally:
        ledger.close()


@pytest.mark.backends("pg")  # partitions of learners are PostgreSQL's; SQLite has one writer
def test_projectors_claim_partitions_and_never_project_one_learner_at_once(
        backend: Backend, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, db_url=backend.new_db_url())
    try:
        # Rows every learner shares (the course, the activity's line item) exist first: a
        # projector waits for another's new shared row, which the test would hold forever.
        early, warm_run = START - timedelta(hours=1), new_run()
        ledger.send(heartbeat("warm@example.edu", warm_run, early, 5),
                    completion("warm@example.edu", warm_run, early, 1))
        _append(ledger, *_history(learners=24, windows=5))
        engine = ledger.platform.engine
        count = partition_count("postgresql")
        holding = threading.Event()
        release = threading.Event()
        held: list[int] = []

        def hold_first(_conn: sa.Connection, batch: ParsedBatch) -> None:
            if not held:
                held.append(batch.partition)
                holding.set()
                assert release.wait(WAIT_S), "never released"

        seen_by_other: list[ParsedBatch] = []
        first = Projector(engine, ledger.platform.pipeline_settings, ledger.platform.now,
                          after_batch=hold_first)
        other_engine = create_engine(engine.url.render_as_string(hide_password=False))
        other = Projector(other_engine, ledger.platform.pipeline_settings, ledger.platform.now,
                          after_batch=lambda _c, batch: seen_by_other.append(batch))
        read_by_other: list[object] = []  # the partition of each batch of rows it read

        def note_reads(_conn: object, _cursor: object, statement: str, parameters: Any,
                       *_rest: object) -> None:
            if statement.startswith("SELECT events.seq") and "FROM events" in statement:
                read_by_other.append(parameters["partition_1"])

        sa.event.listen(other_engine, "before_cursor_execute", note_reads)
        worker = threading.Thread(target=first.project_once)
        worker.start()
        try:
            assert holding.wait(WAIT_S)
            other.project_until_caught_up(max_passes=5)
        finally:
            release.set()
            worker.join(WAIT_S)
            other_engine.dispose()
        (locked,) = held
        assert seen_by_other, "the other projector found no free partition"
        assert locked not in {batch.partition for batch in seen_by_other}
        # It read no row of the held partition: the claim comes before the read.
        assert read_by_other and locked not in read_by_other, read_by_other
        for batch in seen_by_other:  # every learner it projected belongs to its partition
            assert {learner_partition(i.facts.learner_email, count) for i in batch.items} == {
                batch.partition}
        ledger.platform.project_pending()
        assert _projected_runs(ledger) == {
            f"p{i}@example.edu": (5 * 12_000, 5, 1) for i in range(24)} | {
            "warm@example.edu": (5_000, 1, 1)}
        built = snapshot(ledger)
        rebuild(engine, ledger.platform.pipeline_settings)
        assert snapshot(ledger) == built
    finally:
        ledger.close()


def _stored_row(ledger: Ledger, event: dict[str, Any]) -> None:
    """An event written straight into the log, as a store from before today's checks holds it."""
    body = json.dumps(event)
    count = partition_count(ledger.platform.engine.dialect.name)
    with ledger.platform.engine.begin() as conn:  # the log's own append, without the checks
        append_rows(conn, [{
            "event_id": event["id"], "body_hash": "0" * 64, "kind": "event",
            "type": event["type"], "action": event["action"], "profile": "TimebackProfile",
            "actor_id": event["actor"]["id"], "learner_email": event["actor"]["email"],
            "run_id": event["extensions"]["runId"], "event_time": START,
            "sensor": "https://app.example.com", "received_at": START, "job_id": "old",
            "body": body, "partition": learner_partition(event["actor"]["email"], count)}])


def test_an_event_the_projector_cannot_apply_is_passed_and_the_rest_flow(
        backend: Backend, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, db_url=backend.new_db_url())
    try:
        run = new_run()
        before = heartbeat("poison@example.edu", run, START, 10)
        ledger.send(before)
        # Past today's bounds (it would no longer parse); on PostgreSQL text holding U+0000,
        # which parses but cannot be written.
        poison = completion("poison@example.edu", run, START + timedelta(minutes=1), 1e16)
        if backend.name == "pg":
            poison = completion("poison@example.edu", run, START + timedelta(minutes=1), 3)
            poison["object"]["activity"]["name"] = "Quiz\x00"
        _stored_row(ledger, poison)
        after = [heartbeat("poison@example.edu", run, START + timedelta(seconds=15 * n), 10)
                 for n in range(1, 4)]
        job = ledger.send(*after)
        assert [r.status for r in job.results] == ["stored"] * 3  # delivered past the poison
        assert _projected_runs(ledger) == {"poison@example.edu": (40_000, 4, 0)}
        with ledger.platform.engine.connect() as conn:
            outcomes: dict[int, str] = {seq: outcome for seq, outcome in conn.execute(
                sa.text("SELECT seq, outcome FROM event_outcomes"))}
            poison_seq = conn.execute(sa.select(events.c.seq).where(
                events.c.event_id == poison["id"])).scalar_one()
        assert outcomes == {poison_seq: "unprojectable"}
    finally:
        ledger.close()


def test_a_running_projector_compacts_only_after_a_quiet_spell(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    learners = [new_run() for _ in range(50)]
    for n in range(24):  # 1,200 heartbeats: past the first dictionary's 1,000 events
        ledger.append(*(heartbeat(f"l{k}@example.edu", run, START + timedelta(seconds=15 * n), 15)
                        for k, run in enumerate(learners)))
    projector = ledger.platform.projector()
    quiet = QUIET_PASSES_BEFORE_COMPACTION

    def run_until_waits(count: int) -> None:
        waits: list[float] = []
        projector.run(lambda: len(waits) < count, waits.append, idle_wait=0.5)

    run_until_waits(quiet - 1)  # projected everything, then quiet passes one short
    with ledger.platform.engine.connect() as conn:
        assert read_positions(conn)[0].position.seq == 1200
        assert compacted_through(conn) == 0

    run_until_waits(quiet + 1)  # a whole quiet spell: compaction went through the log
    with ledger.platform.engine.connect() as conn:
        assert compacted_through(conn) == 1200
    ledger.close()


def test_an_idle_projector_looks_less_often_until_work_comes(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    projector = ledger.platform.projector()
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == QUIET_PASSES_BEFORE_SLEEPY + 2:  # work arrives during a sleepy wait
            ledger.append(heartbeat("late@example.edu", new_run(), START, 15))

    projector.run(lambda: len(waits) < QUIET_PASSES_BEFORE_SLEEPY + 6, wait,
                  idle_wait=0.02, sleepy_wait=0.1)
    quick = QUIET_PASSES_BEFORE_SLEEPY - 1  # the passes before the one that makes it sleepy
    assert waits[:quick] == [0.02] * quick
    assert waits[quick:quick + 3] == [0.1] * 3
    assert waits[quick + 3:] == [0.02] * 4  # it projected the heartbeat: quick again
    with ledger.platform.engine.connect() as conn:
        assert read_positions(conn)[0].position.seq == 1
    ledger.close()


def test_a_projector_that_caught_up_waits_before_it_looks_again(tmp_path: Path) -> None:
    """A partial batch means the log is caught up: wait, so single events are projected in
    batches; a full batch means more is waiting: go straight on."""
    ledger = Ledger(tmp_path)
    run = new_run()
    ledger.append(*(heartbeat("one@example.edu", run, START + timedelta(seconds=15 * n), 15)
                    for n in range(3)))
    projector = Projector(ledger.platform.engine, ledger.platform.pipeline_settings,
                          ledger.platform.now, batch_size=2)
    passes: list[int] = []
    project_once = projector.project_once

    def counted() -> int:
        passes.append(project_once())
        return passes[-1]

    projector.project_once = counted  # type: ignore[method-assign]
    waits: list[float] = []
    projector.run(lambda: not waits, waits.append, idle_wait=0.02)
    assert passes == [2, 1]  # the full batch went straight on; the partial one waited
    assert waits == [0.02]

    ledger.append(heartbeat("one@example.edu", run, START + timedelta(seconds=45), 15))
    passes.clear()
    waits.clear()
    projector.run(lambda: not waits, waits.append, idle_wait=0.02)
    assert passes == [1]  # not a second pass to find nothing: it waited at once
    with ledger.platform.engine.connect() as conn:
        assert read_positions(conn)[0].position.seq == 4
    ledger.close()
