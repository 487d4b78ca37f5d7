"""A batch made ready to apply: its events prepared, its rows built and what it reads of the
store, so that on SQLite the projector does all of it before it takes the write lock.

Safe there because the projector is the only writer of projections, and it applies a plan only
if its position is still where it was when the plan was read (projector.py); on PostgreSQL the
plan is made inside the transaction that holds the partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from timeledger.server.pipeline.calendar import LocalDates, zone_of
from timeledger.server.pipeline.completions import CompletionInserts
from timeledger.server.pipeline.counted import CountedRows, counted_rows
from timeledger.server.pipeline.days import day_rows
from timeledger.server.pipeline.gradebook import StoredGrades, stored_grades
from timeledger.server.pipeline.learners import people_rows, people_upserts
from timeledger.server.pipeline.model import PipelineSettings, StoredTimebackEvent
from timeledger.server.pipeline.prepared import Prepared, prepare
from timeledger.server.pipeline.totals import StoredKeys, stored_keys
from timeledger.server.pipeline.upserts import PendingUpsert
from timeledger.server.pipeline.windows import WindowInserts, near_windows


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What applying a batch needs that does not depend on the batch's own writes."""

    items: list[Prepared]  # in the log's order
    people: tuple[PendingUpsert, ...]  # learners, aliases, courses
    windows: WindowInserts
    completions: CompletionInserts
    stored: StoredKeys  # runs and learner days stored before the batch
    # Stored windows near the batch's time reports, when planned ahead of the write lock (SQLite,
    # one projector); None: read after the runs upsert (windows.overlaps_of says why).
    near: list[Any] | None
    grades: StoredGrades  # stored results and line items of the batch's completions
    counted: CountedRows  # the rows of all of `items`: what the batch writes if none is resent


def plan_events(conn: sa.Connection, batch: Sequence[StoredTimebackEvent],
                settings: PipelineSettings, *, ahead: bool = False) -> BatchPlan:
    """Prepare `batch` and read the state it needs; writes nothing. `ahead`: planned before the
    write lock (SQLite's one projector), so the near windows are read, and the overlaps found,
    here too."""
    dates = LocalDates(zone_of(settings.timezone))
    # In the order given, the log's (read_batch's): on PostgreSQL that is commit order (xact,
    # seq), not seq, and a batch sorted by seq could count another copy of a window than the
    # same events split over two batches, or replayed by rebuild, do.
    items = [prepare(event, dates) for event in batch]
    reports = [i for i in items if i.is_time and i.run_id]
    near = near_windows(conn, reports, written=False) if ahead else None
    days = day_rows(items)
    stored = stored_keys(conn, items, days.days)
    return BatchPlan(items, people_upserts(conn, people_rows(conn, items)),
                     WindowInserts(conn, reports),
                     CompletionInserts(conn, [i for i in items if not i.is_time]), stored, near,
                     stored_grades(conn, items),
                     counted_rows(conn, items, stored, near, days, reports))
