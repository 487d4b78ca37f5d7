"""Heartbeat windows per run: a resent window is not counted again; overlaps are found."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from timeledger.server.pipeline.batch_order import BatchOrder
from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.upserts import PendingInsert, Row
from timeledger.server.store.interned_texts import stored_text_ids, text_ids
from timeledger.server.store.projection_tables import run_windows

# Windows that share less than this are taken as touching (clocks and rounding), not overlapping.
OVERLAP_TOLERANCE = timedelta(seconds=1)
# No stored window is longer than two days (prepared.py), so later ends cannot overlap.
_LONGEST_WINDOW = timedelta(days=2, seconds=1)


@dataclass(frozen=True, slots=True)
class Overlap:
    """A counted window that overlaps a window of its run reported before it."""

    window: Prepared
    earlier_event_id: str
    earlier_seq: int


_w = run_windows.c
# Stored windows of the batch's runs that end inside (low, high + longest window) and start
# before high: an index range on (run_id, end_at) per run, however long the run already is.
_NEAR_WINDOWS = sa.select(_w.run_id, _w.seq, _w.event_id, _w.start_at, _w.end_at).where(
    _w.run_id.in_(sa.bindparam("runs", expanding=True)),
    _w.end_at > sa.bindparam("low", type_=_w.end_at.type),
    _w.end_at < sa.bindparam("last_end", type_=_w.end_at.type),
    _w.start_at < sa.bindparam("high", type_=_w.start_at.type))
# The same once the batch wrote its own windows (they are in hand already). Only then: a list of
# a batch's seqs costs about 1 us a value to bind.
_NEAR_WINDOWS_BUT_BATCH = _NEAR_WINDOWS.where(_w.seq.not_in(sa.bindparam("batch",
                                                                          expanding=True)))
# PostgreSQL reads after its writes (overlaps_of says why), so it always leaves its batch out:
# there the seqs go as one array, where a list rendered a placeholder per seq that SQLAlchemy,
# psycopg and the server each went through again for every batch.
_NEAR_WINDOWS_BUT_BATCH_ARRAY = _NEAR_WINDOWS.where(
    _w.seq != sa.all_(sa.bindparam("batch", type_=sa.ARRAY(sa.BigInteger))))


_Span = tuple[datetime, datetime, int, str]  # a window's start, end, seq and event id


class _RunIndex:
    """A run's windows sorted by start, to find those near a time range without a full scan."""

    def __init__(self, spans: list[_Span]) -> None:
        spans.sort(key=itemgetter(0))
        self.spans = spans
        self.starts = [span[0] for span in spans]
        self.longest = max(end - start for start, end, _seq, _id in spans)

    def near(self, start: datetime, end: datetime) -> list[_Span]:
        """Windows that could share more than the tolerance with [start, end]."""
        low = bisect_right(self.starts, start + OVERLAP_TOLERANCE - self.longest)
        high = bisect_left(self.starts, end - OVERLAP_TOLERANCE)
        return self.spans[low:high]


class WindowInserts:
    """The batch's time reports as `run_windows` rows, each new (run, window) once, built and
    converted for the driver before the write (and, on SQLite, before the write lock).

    On SQLite a row holds its run id's interned id (store/interned_texts.py). The append interned
    the run's text with its events, so the plan finds every id stored already (a read); a run id
    not found is interned inside the write transaction, under the append's rule, and the rows
    are converted there."""

    def __init__(self, conn: sa.Connection, items: Sequence[Prepared]) -> None:
        self._resent: set[int] = set()  # a window the batch already holds
        seen: set[tuple[str, str]] = set()
        rows: list[Row] = []
        as_number = conn.dialect.name == "sqlite"  # the key as SQLite stores it, without its text
        for item in items:
            assert item.run_id is not None
            key = (item.run_id, item.window_key)
            if key in seen:
                self._resent.add(item.seq)
                continue
            seen.add(key)
            rows.append({
                "run_id": item.run_id, "seq": item.seq,
                "window_key": item.window_key_number if as_number else key[1],
                "event_id": item.event_id, "event_time": item.facts.event_time,
                "start_at": item.start, "end_at": item.end,
                "bounds_reported": item.bounds_reported, "active_ms": item.active_ms,
                "inactive_ms": item.inactive_ms, "other_ms": item.other_ms,
            })  # overlap_event_id: NULL until mark_overlaps sets it
        rows.sort(key=lambda row: (row["run_id"], row["window_key"]))  # one lock order for all
        self._rows = rows
        self._insert: PendingInsert | None = None
        if not as_number or _with_run_ids(rows, stored_text_ids(conn, _run_texts(rows))):
            self._insert = PendingInsert(conn, run_windows, rows, ["run_id", "window_key"],
                                         marker="seq")

    def run(self, conn: sa.Connection) -> set[int]:
        """Store each new (run, window); returns the seqs of resent windows (not counted)."""
        if self._insert is None:  # SQLite, a run id not interned yet: in this transaction
            _with_run_ids(self._rows, text_ids(conn, _run_texts(self._rows)))
            self._insert = PendingInsert(conn, run_windows, self._rows,
                                         ["run_id", "window_key"], marker="seq")
        return self._resent | self._insert.run(conn)


def _run_texts(rows: Sequence[Row]) -> set[str]:
    return {row["run_id"] for row in rows}


def _with_run_ids(rows: Sequence[Row], ids: Mapping[str | None, int | None]) -> bool:
    """Put each row's run id's interned id in place of its text, if `ids` has every one."""
    if any(row["run_id"] not in ids for row in rows):
        return False
    for row in rows:
        row["run_id"] = ids[row["run_id"]]
    return True


def near_windows(conn: sa.Connection, candidates: Sequence[Prepared], *,
                 written: bool) -> list[Any]:
    """Stored windows that may overlap `candidates` (time reports with a run id), besides the
    batch's own: enough for `overlaps_of` on any subset of them. `written`: whether the
    batch's windows are stored already (read in its transaction, after `WindowInserts.run`)."""
    if not candidates:
        return []
    high = max(item.end for item in candidates)
    bounds = {"runs": sorted({str(item.run_id) for item in candidates}),
              "low": min(item.start for item in candidates), "high": high,
              "last_end": high + _LONGEST_WINDOW}
    if not written:
        return list(conn.execute(_NEAR_WINDOWS, bounds))
    but_batch = (_NEAR_WINDOWS_BUT_BATCH_ARRAY if conn.dialect.name == "postgresql"
                 else _NEAR_WINDOWS_BUT_BATCH)
    return list(conn.execute(but_batch,
                             {**bounds, "batch": sorted({item.seq for item in candidates})}))


def overlaps_of(counted: Sequence[Prepared], stored: Sequence[Any]) -> list[Overlap]:
    """For each newly counted window, the lowest-seq window of its run reported before it that
    shares more than OVERLAP_TOLERANCE of time. `counted` is in the log's order, and "before" is
    that order: stored by an earlier batch, or earlier in `counted` (on PostgreSQL the log runs
    in (xact, seq) order, and a window with a higher seq may come first). `stored`:
    `near_windows` of the batch's time reports (or more of them). Reads and writes nothing.

    On PostgreSQL read `stored` after the runs upsert: that holds the run's row lock, so a
    concurrent transaction on the same run (two learners' events under one runId, in two
    partitions) waits and then sees these windows. SQLite's one projector may read it ahead,
    and work the overlaps out there too."""
    if not counted:
        return []
    order = BatchOrder(counted)
    by_run: dict[str, list[_Span]] = {}
    for row in stored:  # windows stored before this batch
        by_run.setdefault(row.run_id, []).append((row.start_at, row.end_at, row.seq, row.event_id))
    for item in counted:  # and this batch's own, already in hand
        by_run.setdefault(str(item.run_id), []).append(
            (item.start, item.end, item.seq, item.event_id))
    indexes = {run_id: _RunIndex(spans) for run_id, spans in by_run.items()}
    overlaps: list[Overlap] = []
    for n, item in enumerate(counted):
        index = indexes.get(str(item.run_id))
        if index is None:
            continue
        best: tuple[int, str] | None = None
        for start, end, seq, event_id in index.near(item.start, item.end):
            if order.place(seq) >= n:
                continue  # itself, or later in this batch: it will find this one, as one by one
            shared = ((end if end < item.end else item.end)
                      - (start if start > item.start else item.start))
            if shared > OVERLAP_TOLERANCE and (best is None or seq < best[0]):
                best = (seq, event_id)
        if best is not None:
            overlaps.append(Overlap(item, best[1], best[0]))
    return overlaps


def mark_overlaps(conn: sa.Connection, overlaps: Sequence[Overlap]) -> None:
    """Set each overlapping window's `overlap_event_id` on its row."""
    if overlaps:
        conn.execute(
            run_windows.update()
            .where(_w.run_id == sa.bindparam("b_run"), _w.window_key == sa.bindparam("b_key"))
            .values(overlap_event_id=sa.bindparam("b_other")),
            [{"b_run": o.window.run_id, "b_key": o.window.window_key,
              "b_other": o.earlier_event_id} for o in overlaps],
        )
