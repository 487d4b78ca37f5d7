"""The projections: runs, learner days, XP, gradebook, flags, running totals and learner
activities, each a function of the events."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from timeledger.server.pipeline.activities import record_activities
from timeledger.server.pipeline.batch_plan import BatchPlan, plan_events
from timeledger.server.pipeline.counted import counted_rows
from timeledger.server.pipeline.flags import raise_flags, refresh_xp_flags
from timeledger.server.pipeline.gradebook import record_gradebook
from timeledger.server.pipeline.model import Outcome, PipelineSettings, StoredTimebackEvent
from timeledger.server.pipeline.windows import mark_overlaps, near_windows, overlaps_of

__all__ = ["BatchPlan", "Outcome", "PipelineSettings", "StoredTimebackEvent", "apply_plan",
           "plan_events", "project_events"]


def project_events(conn: sa.Connection, batch: Sequence[StoredTimebackEvent],
                   settings: PipelineSettings) -> dict[int, Outcome]:
    """Apply newly appended events, in the order given (the log's), inside the caller's transaction.

    Returns an outcome for each seq whose effect was not counted (a resent window or completion).
    The result does not depend on how the events are cut into batches: rebuild replays them in
    batches of its own and gets the same rows.
    """
    if not batch:
        return {}
    return apply_plan(conn, plan_events(conn, batch, settings))


def apply_plan(conn: sa.Connection, plan: BatchPlan) -> dict[int, Outcome]:
    """`project_events` for a batch planned (`plan_events`) against the projections as they
    still are: in the same transaction, or, on SQLite, before it at the same position."""
    items = plan.items
    if not items:
        return {}
    for people in plan.people:
        people.run(conn)
    resent_windows = plan.windows.run(conn)
    resent_completions = plan.completions.run(conn)
    rows = plan.counted  # every event counts: the plan's rows are the batch's
    if resent_windows or resent_completions:
        rows = counted_rows(conn, [i for i in items if i.seq not in resent_windows
                                   and i.seq not in resent_completions], plan.stored, plan.near)
    states = rows.runs.run(conn)
    overlaps = rows.overlaps
    if overlaps is None:
        overlaps = overlaps_of(rows.reports, near_windows(conn, rows.reports, written=True))
    mark_overlaps(conn, overlaps)
    for days in rows.day_upserts:
        days.run(conn)
    results = record_gradebook(conn, rows.done, plan.grades)
    record_activities(conn, rows.done, rows.novelty, states, results, rows.runs.earliest)
    new_flags = raise_flags(conn, rows.items, states, overlaps)
    # Only a run with a completion (completion_seq is set with its first; completions never go)
    # can earn XP above its minutes, or hold that flag: a batch of heartbeats reads nothing.
    new_flags.update(refresh_xp_flags(
        conn, [run_id for run_id, state in states.items() if state.completion_seq is not None]))
    rows.totals.run(conn, new_flags)
    outcomes: dict[int, Outcome] = dict.fromkeys(resent_windows, "duplicate_window")
    outcomes.update(dict.fromkeys(resent_completions, "duplicate_completion"))
    return outcomes
