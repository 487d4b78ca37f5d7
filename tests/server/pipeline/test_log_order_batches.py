"""Projections follow the log's order, not seq's, wherever a batch boundary falls.

On PostgreSQL the log is read in (xact, seq) order: a transaction that took its id first but
appended last holds higher seqs than one that committed before it, yet comes first. Each
decision that asks "which came first" (a duplicate window, an overlap, the occurrence that
describes a flag, a flag against a completion, a mastery streak, a repeated attempt's result,
progress at equal times) must give the same rows live, in batches of any size, as in `rebuild`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from tests.support.ledger_world import Ledger, activity, at, completion, heartbeat, new_run, resend
from tests.support.postgres import Backend
from timeledger.server.pipeline import PipelineSettings
from timeledger.server.pipeline.projector import Projector
from timeledger.server.pipeline.rebuild import clear_projections, rebuild
from timeledger.server.store.commit_order import WRITING_TRANSACTION
from timeledger.server.store.event_appends import append_rows
from timeledger.server.store.partitions import learner_partition, partition_count
from timeledger.server.store.projection_tables import PROJECTION_TABLES
from timeledger.server.store.schema import events

EMAIL = "order@example.edu"
T0 = at("2025-01-13T10:00:00")
NOW = datetime(2025, 1, 14, tzinfo=UTC)
Snapshot = dict[str, list[dict[str, Any]]]


def _log_row(event: dict[str, Any], count: int) -> dict[str, Any]:
    """`event` as the append stores it (without the ingest's checks, which it would pass)."""
    return {
        "event_id": event["id"], "body_hash": "0" * 64, "kind": "event", "type": event["type"],
        "action": event["action"], "profile": "TimebackProfile",
        "actor_id": event["actor"]["id"], "learner_email": event["actor"]["email"],
        "run_id": event["extensions"]["runId"],
        "event_time": datetime.fromisoformat(event["eventTime"]), "sensor":
        "https://app.example.com", "received_at": NOW, "job_id": "by-hand",
        "body": json.dumps(event), "partition": learner_partition(EMAIL, count)}


def _append_out_of_seq_order(ledger: Ledger, first: list[dict[str, Any]],
                             second: list[dict[str, Any]]) -> None:
    """`first` then `second` in the log. On PostgreSQL `first`'s transaction takes its id, then
    `second` is appended and committed, then `first`: so `first` holds the higher seqs."""
    engine = ledger.platform.engine
    count = partition_count(engine.dialect.name)
    if engine.dialect.name != "postgresql":  # one writer: seq order is the log's order
        for group in (first, second):
            with engine.begin() as conn:
                append_rows(conn, [_log_row(e, count) for e in group])
        return
    with engine.connect() as early, early.begin():
        early.execute(sa.select(WRITING_TRANSACTION))  # its id, before `second`'s
        with engine.begin() as late:
            later, _ = append_rows(late, [_log_row(e, count) for e in second])
        earlier, _ = append_rows(early, [_log_row(e, count) for e in first])
    # the premise: `first` is first in the log, `second` first by seq
    assert max(earlier.values()) < min(later.values())
    assert min(p.seq for p in earlier.values()) > max(p.seq for p in later.values())


def _snapshot(ledger: Ledger) -> Snapshot:
    return {table.name: ledger.rows(table) for table in PROJECTION_TABLES}


def _project_live(ledger: Ledger, batch_size: int) -> Snapshot:
    engine = ledger.platform.engine
    with engine.begin() as conn:
        clear_projections(conn)
    Projector(engine, PipelineSettings(), lambda: NOW, batch_size).project_until_caught_up()
    return _snapshot(ledger)


def test_live_batches_of_every_size_match_rebuild(backend: Backend, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, db_url=backend.new_db_url())
    try:
        run, warmup_run = new_run(), new_run()
        warmup = activity("warmup")
        h1 = heartbeat(EMAIL, run, T0, 30)  # 10:00:00-10:00:30
        window = heartbeat(EMAIL, run, T0 + timedelta(minutes=1), 20)
        # record(time=...): a report at the completion's eventTime over time h1 reported
        report = heartbeat(EMAIL, run, T0 + timedelta(seconds=5), 115)  # to 10:02:00
        early_late = heartbeat(EMAIL, run, T0 + timedelta(minutes=5), 10)  # before `done`
        warm_done = completion(EMAIL, warmup_run, T0 + timedelta(minutes=1), 1, mastered=1,
                               pct=50, act=warmup)
        first = [h1, window, report, early_late, warm_done]
        h2 = heartbeat(EMAIL, run, T0 + timedelta(seconds=15), 30)  # overlaps h1 and report
        window_again = resend(window)
        done = completion(EMAIL, run, T0 + timedelta(minutes=2), 2, mastered=2)
        again = completion(EMAIL, run, T0 + timedelta(minutes=3), 1, mastered=3)
        late = heartbeat(EMAIL, run, T0 + timedelta(minutes=6), 10)  # after `done`
        warm_again = completion(EMAIL, warmup_run, T0 + timedelta(minutes=4), 1, act=warmup)
        # another attempt at warm_done's eventTime: of equal times, the later progress counts
        warm_tie = completion(EMAIL, warmup_run, T0 + timedelta(minutes=1), 0, pct=70, attempt=2,
                              act=warmup)
        second = [h2, window_again, done, again, late, warm_again, warm_tie]
        _append_out_of_seq_order(ledger, first, second)

        rebuild(ledger.platform.engine, PipelineSettings())
        rebuilt = _snapshot(ledger)
        for size in range(1, len(first) + len(second) + 1):
            assert _project_live(ledger, size) == rebuilt, f"batches of {size}"

        # and what they agree on is the log's order
        overlaps = {w["event_id"]: w["overlap_event_id"] for w in rebuilt["run_windows"]}
        assert overlaps == {h1["id"]: None, window["id"]: None, report["id"]: h1["id"],
                            early_late["id"]: None, h2["id"]: h1["id"], late["id"]: None}
        assert {(o["seq"], o["outcome"]) for o in rebuilt["event_outcomes"]} == {
            (_seq(ledger, window_again), "duplicate_window")}
        flagged = sorted((f["kind"], *orjson.loads(f["event_ids"])) for f in rebuilt["flags"])
        by_seq = sorted((warm_done, warm_again, warm_tie), key=lambda e: _seq(ledger, e))
        assert flagged == sorted([
            ("overlapping_windows", h1["id"], report["id"]),  # the first in the log
            ("double_time", h1["id"], report["id"], done["id"]),
            ("second_completion", done["id"], again["id"]),
            ("second_completion", warm_done["id"], warm_again["id"]),
            ("second_completion", warm_done["id"], warm_tie["id"]),
            ("heartbeats_after_completion", done["id"], late["id"]),  # not early_late
            ("cumulative_mastered_units", warm_done["id"], done["id"], again["id"]),
            ("xp_above_focused_minutes", *(e["id"] for e in by_seq)),  # 2 XP, no time

        ])
        assert {f["kind"]: f["occurrences"] for f in rebuilt["flags"]}["overlapping_windows"] == 2
        # a repeated attempt: the later result in the log
        warm = [r for r in rebuilt["gradebook_results"] if r["activity_id"].endswith("warmup")]
        assert [r["event_id"] for r in warm] == [warm_again["id"], warm_tie["id"]]
        assert [p["pct_complete"] for p in rebuilt["course_progress"]] == [70]
    finally:
        ledger.close()


def _seq(ledger: Ledger, event: dict[str, Any]) -> int:
    with ledger.platform.engine.connect() as conn:
        return int(conn.execute(sa.select(events.c.seq).where(events.c.event_id == event["id"]))
                   .scalar_one())

