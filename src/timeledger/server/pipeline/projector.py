"""The projector: applies projections from the event log, in order, in batches, exactly once.

The request path only appends events (server/ingestion.py). The projector reads the log past its
position, parses each Timeback event, hands the batch to `project_events` and commits the new
position in the same transaction as the rows it wrote, so a crash at any point neither skips nor
double-counts an event. It also records what it decided for events it did not count
(`event_outcomes`), which fills in the jobs' per-event results.

On SQLite the log is one partition, read in `seq` order; the projector reads and parses a batch
before it takes the write lock, so appends wait only for the projection's own writes. On
PostgreSQL the log is cut by learner (store/partitions.py); a projector claims one partition at a
time (`FOR UPDATE SKIP LOCKED` on its position row), so any number of projectors on any machines
share the work and no two ever project the same learner at once. `rebuild` replays through the
same `read_batch`/`apply_batch`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.caliper.errors import CaliperError
from timeledger.caliper.timeback import facts_of, parse_timeback_event
from timeledger.server.pipeline import project_events
from timeledger.server.pipeline.model import PipelineSettings, StoredTimebackEvent
from timeledger.server.pipeline.tables import event_outcomes
from timeledger.server.store import commit_order
from timeledger.server.store.compaction import compact_events
from timeledger.server.store.database import begin_write
from timeledger.server.store.event_bodies import BODY_COLUMNS, event_json
from timeledger.server.store.log_positions import (
    Position,
    log_heads,
    projected_through,
    read_positions,
)
from timeledger.server.store.schema import events, projector_positions

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """Rows read from one partition, past `start`, parsed and ready to project."""

    partition: int
    start: Position
    end: Position  # the last row read (projected or not: entities need nothing)
    items: list[StoredTimebackEvent]
    unreadable: list[int]  # seqs of stored events that no longer parse (skipped, logged)
    newest_event_time: datetime | None
    row_count: int


def _log_columns() -> list[sa.ColumnElement[Any]]:
    return [events.c.seq, events.c.xact, events.c.partition, *BODY_COLUMNS,
            events.c.received_at]


def read_batch(conn: sa.Connection, partition: int, start: Position,
               limit: int) -> ParsedBatch | None:
    """The next rows of `partition` after `start` that may be projected now, parsed; None if
    there are none. On PostgreSQL only rows of settled transactions are taken."""
    if commit_order.follows_transactions(conn):
        below = int(conn.execute(sa.select(commit_order.SETTLED_BELOW)).scalar_one())
        query = (sa.select(*_log_columns())
                 .where(events.c.partition == partition,
                        sa.tuple_(events.c.xact, events.c.seq)
                        > sa.tuple_(sa.literal(start.xact), sa.literal(start.seq)),
                        events.c.xact < below)
                 .order_by(events.c.xact, events.c.seq).limit(limit))
    else:  # the whole log is partition 0: entities are read (and passed over) too
        query = (sa.select(*_log_columns()).where(events.c.seq > start.seq)
                 .order_by(events.c.seq).limit(limit))
    rows = conn.execute(query).all()
    if not rows:
        return None
    items: list[StoredTimebackEvent] = []
    unreadable: list[int] = []
    for row in rows:
        if row.partition is None:
            continue
        try:
            event = parse_timeback_event(event_json(conn, row), f"events[{row.seq}]")
        except (CaliperError, orjson.JSONDecodeError):
            unreadable.append(row.seq)
            continue
        items.append(StoredTimebackEvent(row.seq, facts_of(event), row.received_at))
    if unreadable:
        log.warning("skipped %d stored event(s) that no longer parse: seq %s", len(unreadable),
                    ", ".join(map(str, unreadable[:20])))
    last = rows[-1]
    newest = max((item.facts.event_time for item in items), default=None)
    return ParsedBatch(partition, start, Position(last.xact or 0, last.seq), items, unreadable,
                       newest, len(rows))


def apply_batch(conn: sa.Connection, batch: ParsedBatch, settings: PipelineSettings,
                previous_event_time: datetime | None, now: datetime) -> datetime | None:
    """Project the batch and move its partition's position past it, in the caller's
    transaction. Returns the partition's newest projected eventTime."""
    outcomes = project_events(conn, batch.items, settings)
    if outcomes:
        conn.execute(event_outcomes.insert(), [{"seq": seq, "outcome": outcome}
                                               for seq, outcome in sorted(outcomes.items())])
    newest = max((t for t in (previous_event_time, batch.newest_event_time) if t is not None),
                 default=None)
    conn.execute(projector_positions.update()
                 .where(projector_positions.c.partition == batch.partition)
                 .values(xact=batch.end.xact, seq=batch.end.seq, event_time=newest,
                         updated_at=now))
    return newest


class Projector:
    """Applies what the log holds past each partition's position; see the module docstring."""

    def __init__(self, engine: Engine, settings: PipelineSettings,
                 now: Callable[[], datetime], batch_size: int = DEFAULT_BATCH_SIZE,
                 after_batch: Callable[[sa.Connection, ParsedBatch], None] | None = None) -> None:
        self._engine = engine
        self._settings = settings
        self._now = now
        self._batch_size = batch_size
        self._after_batch = after_batch
        self._turn = 0

    def project_once(self) -> int:
        """One pass: a batch from each partition that has work and is free. Returns the number
        of log rows passed (0: nothing to do now)."""
        if self._engine.dialect.name == "postgresql":
            return sum(self._project_claimed(partition) for partition in self._behind())
        return self._project_whole_log()

    def project_until_caught_up(self, max_passes: int | None = None) -> int:
        """Project until a pass finds nothing to do; returns the rows passed in all."""
        total = 0
        passes = 0
        while max_passes is None or passes < max_passes:
            passed = self.project_once()
            passes += 1
            if not passed:
                break
            total += passed
        return total

    def run(self, keep_going: Callable[[], bool], wait: Callable[[float], object],
            idle_wait: float = 0.02, error_wait: float = 1.0) -> None:
        """Project while `keep_going()`; `wait(seconds)` when idle or after a store error."""
        while keep_going():
            try:
                passed = self.project_once()
            except sa.exc.DBAPIError:
                log.exception("projection failed; retrying in %.1f s", error_wait)
                wait(error_wait)
                continue
            if not passed and not self.compact_once():
                wait(idle_wait)

    def compact_once(self) -> int:
        """Compact one batch of projected events (storage, never the request path); the number
        of events it went past. The projector does this only when it has nothing to project."""
        with begin_write(self._engine) as conn:
            return compact_events(conn, projected_through(conn).seq, self._batch_size)

    # --- SQLite: one partition, read and parsed before the write lock is taken ----------------

    def _project_whole_log(self) -> int:
        with self._engine.connect() as conn:
            state = read_positions(conn)[0]
            batch = read_batch(conn, 0, state.position, self._batch_size)
        if batch is None:
            return 0
        with self._engine.begin() as conn:
            # The claim: the write lock is ours from here, and nobody moved the position since.
            claimed = conn.execute(
                projector_positions.update()
                .where(projector_positions.c.partition == 0,
                       projector_positions.c.seq == state.position.seq)
                .values(updated_at=self._now())).rowcount
            if not claimed:
                return 0
            self._apply(conn, batch, state.event_time)
        return batch.row_count

    # --- PostgreSQL: partitions claimed one batch at a time ----------------------------------

    def _behind(self) -> list[int]:
        with self._engine.connect() as conn:
            positions = read_positions(conn)
            heads = log_heads(conn)
        behind = [p for p, head in heads.items() if p in positions
                  and positions[p].position < head]
        self._turn += 1  # start each pass at another partition, so claims spread out
        return behind[self._turn % len(behind):] + behind[:self._turn % len(behind)] \
            if behind else []

    def _project_claimed(self, partition: int) -> int:
        with self._engine.begin() as conn:
            claimed = conn.execute(
                sa.select(projector_positions.c.xact, projector_positions.c.seq,
                          projector_positions.c.event_time)
                .where(projector_positions.c.partition == partition)
                .with_for_update(skip_locked=True)).first()
            if claimed is None:  # another projector has it
                return 0
            batch = read_batch(conn, partition, Position(claimed.xact, claimed.seq),
                               self._batch_size)
            if batch is None:
                return 0
            self._apply(conn, batch, claimed.event_time)
        return batch.row_count

    def _apply(self, conn: sa.Connection, batch: ParsedBatch,
               previous_event_time: datetime | None) -> None:
        apply_batch(conn, batch, self._settings, previous_event_time, self._now())
        if self._after_batch is not None:
            self._after_batch(conn, batch)
