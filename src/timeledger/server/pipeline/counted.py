"""What a batch's counted events write, built from them alone: made in the plan for a batch whose
events all count (on SQLite before the write lock), and again under it only when one is resent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from timeledger.server.pipeline.days import DayRows, day_rows, day_upserts
from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.runs import RunsUpsert
from timeledger.server.pipeline.totals import Novelty, StoredKeys, TotalsUpsert, novelty_of
from timeledger.server.pipeline.upserts import PendingUpsert
from timeledger.server.pipeline.windows import Overlap, overlaps_of


@dataclass(frozen=True, slots=True)
class CountedRows:
    """The rows a batch's counted events add, ready to write."""

    items: Sequence[Prepared]  # the counted events, in the log's order
    reports: list[Prepared]  # those that are time reports with a run id
    done: list[Prepared]  # those that are completions
    days: DayRows
    novelty: Novelty
    runs: RunsUpsert
    day_upserts: tuple[PendingUpsert, PendingUpsert]
    totals: TotalsUpsert
    # Their windows' overlaps, when the stored windows near them were in hand (SQLite's plan);
    # None: found after the runs upsert (windows.overlaps_of says why).
    overlaps: list[Overlap] | None


def counted_rows(conn: sa.Connection, counted: Sequence[Prepared], stored: StoredKeys,
                 near: Sequence[Any] | None, days: DayRows | None = None,
                 reports: list[Prepared] | None = None) -> CountedRows:
    """The rows of `counted` (in the log's order), against `stored` (`stored_keys`, read before
    the batch wrote); `near`: the stored windows near its time reports, if read already. `days`
    and `reports`: `day_rows(counted)` and its time reports with a run id, if made already.
    Reads nothing."""
    if days is None:
        days = day_rows(counted)
    if reports is None:
        reports = [i for i in counted if i.is_time and i.run_id]
    novelty = novelty_of(stored, counted, days)
    return CountedRows(
        counted, reports, [i for i in counted if not i.is_time], days, novelty,
        RunsUpsert(conn, [i for i in counted if i.run_id is not None]), day_upserts(conn, days),
        TotalsUpsert(conn, counted, days, novelty),
        None if near is None else overlaps_of(reports, near))
