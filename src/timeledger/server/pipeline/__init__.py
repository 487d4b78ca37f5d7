"""The projections: runs, learner days, XP, gradebook, flags, running totals and learner
activities, each a function of the events."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from timeledger.server.pipeline.activities import record_activities
from timeledger.server.pipeline.batch_plan import BatchPlan, plan_events
from timeledger.server.pipeline.days import day_rows, record_days
from timeledger.server.pipeline.flags import raise_flags, refresh_xp_flags
from timeledger.server.pipeline.gradebook import record_gradebook
from timeledger.server.pipeline.learners import record_people
from timeledger.server.pipeline.model import Outcome, PipelineSettings, StoredTimebackEvent
from timeledger.server.pipeline.runs import upsert_runs
from timeledger.server.pipeline.totals import novelty_of, record_totals
from timeledger.server.pipeline.windows import find_overlaps, near_windows

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
    record_people(conn, plan.people)
    resent_windows = plan.windows.run(conn)
    resent_completions = plan.completions.run(conn)
    if resent_windows or resent_completions:
        counted = [i for i in items
                   if i.seq not in resent_windows and i.seq not in resent_completions]
        days = day_rows(counted)
        reports = [i for i in counted if i.is_time and i.run_id]
    else:  # every event counts: the plan's rows and time reports are the batch's
        counted, days, reports = items, plan.days, plan.reports
    novelty = novelty_of(plan.stored, counted, days)
    states = upsert_runs(conn, [i for i in counted if i.run_id is not None])
    near = plan.near if plan.near is not None else near_windows(conn, reports, written=True)
    overlaps = find_overlaps(conn, reports, near)
    record_days(conn, days)
    results = record_gradebook(conn, [i for i in counted if not i.is_time], plan.grades)
    record_activities(conn, counted, novelty, states, results)
    new_flags = raise_flags(conn, counted, states, overlaps)
    # Only a run with a completion (completion_seq is set with its first; completions never go)
    # can earn XP above its minutes, or hold that flag: a batch of heartbeats reads nothing.
    new_flags.update(refresh_xp_flags(
        conn, [run_id for run_id, state in states.items() if state.completion_seq is not None]))
    record_totals(conn, counted, days, novelty, new_flags)
    outcomes: dict[int, Outcome] = dict.fromkeys(resent_windows, "duplicate_window")
    outcomes.update(dict.fromkeys(resent_completions, "duplicate_completion"))
    return outcomes
