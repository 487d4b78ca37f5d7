"""The projections: runs, learner days, XP, gradebook, flags, running totals and learner
activities, each a function of the events."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from timeledger.server.pipeline.activities import record_activities
from timeledger.server.pipeline.calendar import zone_of
from timeledger.server.pipeline.completions import record_completions
from timeledger.server.pipeline.days import record_days
from timeledger.server.pipeline.flags import raise_flags, refresh_xp_flags
from timeledger.server.pipeline.gradebook import record_gradebook
from timeledger.server.pipeline.learners import record_people
from timeledger.server.pipeline.model import Outcome, PipelineSettings, StoredTimebackEvent
from timeledger.server.pipeline.prepared import prepare
from timeledger.server.pipeline.runs import upsert_runs
from timeledger.server.pipeline.totals import novelty_of, record_totals
from timeledger.server.pipeline.windows import find_overlaps, record_windows

__all__ = ["Outcome", "PipelineSettings", "StoredTimebackEvent", "project_events"]


def project_events(conn: sa.Connection, batch: Sequence[StoredTimebackEvent],
                   settings: PipelineSettings) -> dict[int, Outcome]:
    """Apply newly appended events, in seq order, inside the caller's transaction.

    Returns an outcome for each seq whose effect was not counted (a resent window or completion).
    The result does not depend on how the events are cut into batches: rebuild replays them in
    batches of its own and gets the same rows.
    """
    if not batch:
        return {}
    zone = zone_of(settings.timezone)
    items = [prepare(event, zone) for event in sorted(batch, key=lambda e: e.seq)]
    record_people(conn, items)
    resent_windows = record_windows(conn, [i for i in items if i.is_time and i.run_id])
    resent_completions = record_completions(conn, [i for i in items if not i.is_time])
    counted = [i for i in items if i.seq not in resent_windows and i.seq not in resent_completions]
    novelty = novelty_of(conn, counted)
    states = upsert_runs(conn, [i for i in counted if i.run_id is not None])
    overlaps = find_overlaps(conn, [i for i in counted if i.is_time and i.run_id])
    record_days(conn, counted)
    results = record_gradebook(conn, [i for i in counted if not i.is_time])
    record_activities(conn, counted, novelty, states, results)
    new_flags = raise_flags(conn, counted, states, overlaps)
    new_flags.update(refresh_xp_flags(conn, states.keys()))
    record_totals(conn, counted, novelty, new_flags)
    outcomes: dict[int, Outcome] = dict.fromkeys(resent_windows, "duplicate_window")
    outcomes.update(dict.fromkeys(resent_completions, "duplicate_completion"))
    return outcomes
