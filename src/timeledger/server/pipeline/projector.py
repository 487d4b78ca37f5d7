"""The projector: applies projections from the event log, in order, in batches, exactly once.

The request path only appends events (server/ingestion.py). The projector reads the log past its
position, parses each Timeback event, hands the batch to `project_events` and commits the new
position in the same transaction as the rows it wrote, so a crash at any point neither skips nor
double-counts an event. It also records what it decided for events it did not count
(`event_outcomes`), which fills in the jobs' per-event results.

On SQLite the log is one partition, read in `seq` order; the projector reads and parses a batch,
and plans it (pipeline/batch_plan.py: rows built, the state it needs read), before it takes the
write lock, so appends wait only for the projection's own writes and the reads that follow them. On
PostgreSQL the log is cut by learner (store/partitions.py); a projector claims one partition at a
time (`FOR UPDATE SKIP LOCKED` on its position row), so any number of projectors on any machines
share the work and no two ever project the same learner at once. `rebuild` replays through the
same `read_batch`/`apply_batch`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.caliper.errors import CaliperError
from timeledger.caliper.screen import screen_stored_text
from timeledger.caliper.timeback import facts_of, parse_timeback_event
from timeledger.server.pipeline import BatchPlan, apply_plan, plan_events
from timeledger.server.pipeline.model import PipelineSettings, StoredTimebackEvent
from timeledger.server.store import commit_order
from timeledger.server.store.availability import outage_reason
from timeledger.server.store.compaction import compact_events, compacted_through
from timeledger.server.store.database import begin_write, writer_turn
from timeledger.server.store.driver_rows import execute_once
from timeledger.server.store.event_bodies import BODY_COLUMNS, event_body
from timeledger.server.store.log_positions import (
    Position,
    log_heads,
    projected_through,
    read_positions,
)
from timeledger.server.store.projection_tables import event_outcomes
from timeledger.server.store.schema import events, projector_positions

log = logging.getLogger(__name__)

#: The outcome of an event the projector cannot apply (it no longer parses, or the store refuses
#: what it would write): recorded, logged, and passed.
UNPROJECTABLE = "unprojectable"
#: What applying a batch may raise because of one event in it (not because the store is out).
PROJECTION_ERRORS = (sa.exc.SQLAlchemyError, ArithmeticError, ValueError)

DEFAULT_BATCH_SIZE = 1000
#: Idle passes in a row before a running projector compacts (`run`): 0.5 s at serve's idle wait.
QUIET_PASSES_BEFORE_COMPACTION = 25
#: Idle passes in a row after which a running projector looks at the log less often (`run`):
#: 1 s at serve's idle wait. A platform nobody writes to then costs a tenth of the CPU it did,
#: and the first event after the lull waits at most `sleepy_wait` longer to be projected.
QUIET_PASSES_BEFORE_SLEEPY = 50


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """Rows read from one partition, past `start`, parsed and ready to project."""

    partition: int
    start: Position
    end: Position  # the last row read (projected or not: entities need nothing)
    items: list[StoredTimebackEvent]
    item_xacts: list[int]  # each item's transaction (0 on SQLite): with its seq, its Position
    unreadable: list[int]  # seqs of stored events that no longer parse (skipped, recorded)
    newest_event_time: datetime | None
    row_count: int
    plan: BatchPlan | None = None  # made ahead (SQLite), valid only at `start`; else on apply


def _log_columns() -> list[sa.ColumnElement[Any]]:
    """What a batch reads of each row: a packed (compacted) body also needs the columns it
    left out (`BODY_COLUMNS`), read for those rows only (`_with_body_columns`); the log the
    projector follows is mostly text not yet compacted, and reading five more columns through
    their types for every row cost more than the rest of the read. In this order: read_batch
    unpacks each row."""
    return [events.c.seq, events.c.xact, events.c.partition, events.c.body, events.c.packed]


_BODIES_BY_SEQ = sa.select(events.c.seq, *BODY_COLUMNS).where(
    events.c.seq.in_(sa.bindparam("seqs", expanding=True)))


def _with_body_columns(conn: sa.Connection, rows: Sequence[Any]) -> dict[int, Any]:
    """Each packed row's `BODY_COLUMNS`, by seq."""
    packed = [seq for seq, _xact, _partition, _body, packed in rows if packed is not None]
    if not packed:
        return {}
    return {row.seq: row for row in conn.execute(_BODIES_BY_SEQ, {"seqs": packed})}


#: The next rows of SQLite's one partition (the whole log: entities are read, and passed over,
#: too), read through the driver: a row through Core cost about 0.6 us more (1.5 against 0.9).
_SQLITE_LOG_PAGE = (sa.select(*_log_columns()).where(events.c.seq > sa.bindparam("after"))
                    .order_by(events.c.seq).limit(sa.bindparam("limit")))
_COMPILED_PAGES: dict[str, Any] = {}


def _sqlite_log_page(conn: sa.Connection, after: int, limit: int) -> list[Any]:
    compiled = _COMPILED_PAGES.get(conn.dialect.name)
    if compiled is None:
        compiled = _COMPILED_PAGES[conn.dialect.name] = _SQLITE_LOG_PAGE.compile(
            dialect=conn.dialect)
    given = compiled.construct_params({"after": after, "limit": limit})
    return execute_once(conn, compiled.string,
                        [given[name] for name in compiled.positiontup or ()])


def read_batch(conn: sa.Connection, partition: int, start: Position,
               limit: int) -> ParsedBatch | None:
    """The next rows of `partition` after `start` that may be projected now, parsed; None if
    there are none. On PostgreSQL only rows of settled transactions are taken."""
    if commit_order.follows_transactions(conn):
        below = int(conn.execute(sa.select(commit_order.SETTLED_BELOW)).scalar_one())
        rows: Sequence[Any] = conn.execute(
            sa.select(*_log_columns())
            .where(events.c.partition == partition,
                   sa.tuple_(events.c.xact, events.c.seq)
                   > sa.tuple_(sa.literal(start.xact), sa.literal(start.seq)),
                   events.c.xact < below)
            .order_by(events.c.xact, events.c.seq).limit(limit)).all()
    else:
        rows = _sqlite_log_page(conn, start.seq, limit)
    if not rows:
        return None
    items: list[StoredTimebackEvent] = []
    item_xacts: list[int] = []
    unreadable: list[int] = []
    packed = _with_body_columns(conn, rows)
    newest: datetime | None = None
    # Rows as plain tuples: a Row's attribute costs about as much as a parse of a time.
    for seq, xact, row_partition, body, stored_packed in rows:
        if row_partition is None:
            continue
        try:
            text = body if stored_packed is None else event_body(conn, packed[seq])
            facts = screen_stored_text(text) or facts_of(
                parse_timeback_event(orjson.loads(text), f"events[{seq}]"))
        except (CaliperError, orjson.JSONDecodeError):
            unreadable.append(seq)
            continue
        items.append(StoredTimebackEvent(seq, facts))
        item_xacts.append(xact or 0)
        if newest is None or facts.event_time > newest:
            newest = facts.event_time
    if unreadable:
        log.warning("skipped %d stored event(s) that no longer parse: seq %s", len(unreadable),
                    ", ".join(map(str, unreadable[:20])))
    last_seq, last_xact = rows[-1][0], rows[-1][1]
    return ParsedBatch(partition, start, Position(last_xact or 0, last_seq), items,
                       item_xacts, unreadable, newest, len(rows))


def apply_batch(conn: sa.Connection, batch: ParsedBatch, settings: PipelineSettings,
                previous_event_time: datetime | None, now: datetime) -> datetime | None:
    """Project the batch and move its partition's position past it, in the caller's
    transaction. Returns the partition's newest projected eventTime."""
    plan = batch.plan if batch.plan is not None else plan_events(conn, batch.items, settings)
    outcomes: dict[int, str] = dict(apply_plan(conn, plan))
    outcomes.update(dict.fromkeys(batch.unreadable, UNPROJECTABLE))
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
                 after_batch: Callable[[sa.Connection, ParsedBatch], None] | None = None,
                 after_commit: Callable[[], None] | None = None) -> None:
        """`after_batch` runs inside each batch's transaction; `after_commit` after each commit
        (the store's background WAL checkpoints)."""
        self._engine = engine
        self._after_commit = after_commit or (lambda: None)
        self._settings = settings
        self._now = now
        self._batch_size = batch_size
        self._after_batch = after_batch
        self._turn = 0
        self._compaction_idle_at = -1

    def project_once(self) -> int:
        """One pass: a batch from each partition that has work and is free. Returns the number
        of log rows passed (0: nothing to do now)."""
        partitions = self._behind() if self._engine.dialect.name == "postgresql" else [0]
        return sum(self._project(partition) for partition in partitions)

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
            idle_wait: float = 0.02, error_wait: float = 1.0,
            quiet_passes_before_compaction: int = QUIET_PASSES_BEFORE_COMPACTION,
            sleepy_wait: float = 0.1,
            quiet_passes_before_sleepy: int = QUIET_PASSES_BEFORE_SLEEPY) -> None:
        """Project while `keep_going()`; `wait(seconds)` when idle or after a store error.

        A pass that found less than a full batch has caught up with the log, so it too waits
        `idle_wait` before the next: events arriving one at a time (the official client's
        single-event envelopes) are then projected a batch per `idle_wait`, not one transaction
        each, and on SQLite the write lock those transactions take stays free for the API's
        appends. Only a full batch, which says more is waiting, goes straight on.
        Compaction waits until that many passes in a row found nothing to project: while
        envelopes keep arriving, its CPU and its share of the write lock go to ingest. After a
        longer lull the idle wait grows from `idle_wait` to `sleepy_wait`, until work comes."""
        quiet = 0
        while keep_going():
            try:
                projected = self.project_once()
                quiet = 0 if projected else quiet + 1
                busy = projected >= self._batch_size or (
                    quiet >= quiet_passes_before_compaction and self.compact_once())
            except sa.exc.DBAPIError:
                log.exception("projection failed; retrying in %.1f s", error_wait)
                wait(error_wait)
                continue
            if not busy:
                wait(sleepy_wait if quiet >= quiet_passes_before_sleepy else idle_wait)

    def compact_once(self) -> int:
        """Compact one batch of projected events (storage, never the request path); the number
        of events it went past. The projector does this only when it has nothing to project,
        and takes the write lock only when there is something to compact."""
        with self._engine.connect() as conn:
            through = projected_through(conn).seq
            if through <= max(self._compaction_idle_at, compacted_through(conn)):
                return 0
        with begin_write(self._engine) as conn:
            compacted = compact_events(conn, through, self._batch_size)
        self._after_commit()
        if not compacted:  # nothing it can do below `through` yet (no dictionary trained)
            self._compaction_idle_at = through
        return compacted

    # --- a batch: read and parsed first, then applied under a claim of its partition -----------

    def _project(self, partition: int) -> int:
        """SQLite: the batch is read, parsed and planned before the claim (the write lock), so
        appends wait only for the projection's writes; the claim applies it only if the
        position has not moved since (the plan read the projections as they were there).
        PostgreSQL: after it, so a partition another projector holds costs no read (with two
        projectors, a read first was wasted in about one claim of three)."""
        claim_first = self._engine.dialect.name == "postgresql"
        with self._engine.connect() as conn:
            state = read_positions(conn)[partition]
            read = [] if claim_first else [self._planned(
                conn, read_batch(conn, partition, state.position, self._batch_size))]

        def work(conn: sa.Connection) -> None:
            if not read:
                read.append(read_batch(conn, partition, state.position, self._batch_size))
            if read[0] is not None:
                self._apply(conn, read[0], state.event_time)

        if read and read[0] is None:
            return 0
        try:
            if not self._claimed(partition, state.position, work):
                return 0
        except PROJECTION_ERRORS as exc:
            if outage_reason(exc) is not None or not read or read[0] is None:
                raise
            log.warning("a batch of partition %d failed (%s); projecting it one event at a "
                        "time", partition, exc)
            self._isolate(read[0], state.event_time)
        return read[0].row_count if read[0] is not None else 0

    def _planned(self, conn: sa.Connection, batch: ParsedBatch | None) -> ParsedBatch | None:
        """The batch with its plan, or as it is if planning fails because of an event in it: it
        is then planned under the claim, where a failure sends it to `_isolate`."""
        if batch is None:
            return None
        try:
            return replace(batch, plan=plan_events(conn, batch.items, self._settings,
                                                   ahead=True))
        except PROJECTION_ERRORS as exc:
            if outage_reason(exc) is not None:
                raise
            return batch

    def _behind(self) -> list[int]:
        """PostgreSQL's partitions with rows past their position, from a new one each pass."""
        with self._engine.connect() as conn:
            positions = read_positions(conn)
            heads = log_heads(conn)
        behind = [p for p, head in heads.items() if p in positions
                  and positions[p].position < head]
        self._turn += 1  # start each pass at another partition, so claims spread out
        first = self._turn % len(behind) if behind else 0
        return behind[first:] + behind[:first]

    def _claimed(self, partition: int, expected: Position,
                 work: Callable[[sa.Connection], object]) -> bool:
        """Run `work` in a transaction that holds the partition, if it is still at `expected`.

        SQLite: the claim is a write, so the write lock is held from the start and appends wait
        only for the projection's own writes. PostgreSQL: the partition's position row is
        locked (`FOR UPDATE SKIP LOCKED`), so another projector passes it by."""
        with writer_turn(self._engine), self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                held = conn.execute(
                    sa.select(projector_positions.c.xact, projector_positions.c.seq)
                    .where(projector_positions.c.partition == partition)
                    .with_for_update(skip_locked=True)).first()
                if held is None or Position(held.xact, held.seq) != expected:
                    return False
            elif not conn.execute(
                    projector_positions.update()
                    .where(projector_positions.c.partition == partition,
                           projector_positions.c.seq == expected.seq)
                    .values(updated_at=self._now())).rowcount:
                return False
            work(conn)
        self._after_commit()
        return True

    def _isolate(self, batch: ParsedBatch, newest: datetime | None) -> None:
        """Project a failed batch event by event; an event that fails alone is recorded as
        unprojectable and passed, so one event never holds back those after it."""
        position = batch.start
        for item, xact in zip(batch.items, batch.item_xacts, strict=True):
            end = Position(xact, item.seq)
            single = ParsedBatch(batch.partition, position, end, [item], [xact], [],
                                 item.facts.event_time, 1)
            try:
                done = self._claimed(batch.partition, position,
                                     partial(self._apply, batch=single,
                                             previous_event_time=newest))
            except PROJECTION_ERRORS as exc:
                if outage_reason(exc) is not None:
                    raise
                log.error("event seq %d cannot be projected (%s); recorded as unprojectable",
                          item.seq, exc)
                passed = ParsedBatch(batch.partition, position, end, [], [], [item.seq], None, 1)
                done = self._claimed(batch.partition, position,
                                     partial(self._apply, batch=passed,
                                             previous_event_time=newest))
            if not done:
                return  # another projector moved on
            newest = max((t for t in (newest, item.facts.event_time) if t is not None),
                         default=None)
            position = end
        rest = ParsedBatch(batch.partition, position, batch.end, [], [], batch.unreadable,
                           None, 1)
        self._claimed(batch.partition, position, lambda conn: self._apply(conn, rest, newest))

    def _apply(self, conn: sa.Connection, batch: ParsedBatch,
               previous_event_time: datetime | None) -> None:
        apply_batch(conn, batch, self._settings, previous_event_time, self._now())
        if self._after_batch is not None:
            self._after_batch(conn, batch)
