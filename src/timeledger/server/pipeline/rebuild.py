"""Rebuild: clear the projections and replay every stored event through the projector's code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.caliper.timeback import TIMEBACK_PROFILE
from timeledger.server.pipeline.model import PipelineSettings
from timeledger.server.pipeline.projector import DEFAULT_BATCH_SIZE as DEFAULT_BATCH_SIZE
from timeledger.server.pipeline.projector import apply_batch, read_batch
from timeledger.server.store.log_positions import Position, read_positions
from timeledger.server.store.projection_tables import PROJECTION_TABLES
from timeledger.server.store.schema import events, projector_positions

# The same test the ingestor applies (caliper.timeback.is_timeback_event), in SQL.
_TIMEBACK = sa.and_(events.c.kind == "event", sa.or_(events.c.profile == TIMEBACK_PROFILE,
                                                     events.c.type == "TimeSpentEvent"))


@dataclass(frozen=True, slots=True)
class RebuildReport:
    replayed: int
    unreadable: tuple[int, ...]  # seqs of stored events that no longer parse (skipped)


def count_timeback_events(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(events).where(_TIMEBACK))
               .scalar_one())


def clear_projections(conn: sa.Connection) -> None:
    for table in PROJECTION_TABLES:
        conn.execute(table.delete())
    conn.execute(projector_positions.update().values(xact=0, seq=0, event_time=None))


def replay(conn: sa.Connection, settings: PipelineSettings, now: datetime,
           batch_size: int = DEFAULT_BATCH_SIZE,
           progress: Callable[[int], None] | None = None) -> RebuildReport:
    """Project every partition from its position to the end of the log, in the caller's
    transaction, through the projector's own `read_batch`/`apply_batch`."""
    replayed = 0
    unreadable: list[int] = []
    for partition, state in sorted(read_positions(conn).items()):
        position: Position = state.position
        newest = state.event_time
        while (batch := read_batch(conn, partition, position, batch_size)) is not None:
            newest = apply_batch(conn, batch, settings, newest, now)
            replayed += len(batch.items)
            unreadable += batch.unreadable
            position = batch.end
            if progress is not None:
                progress(len(batch.items) + len(batch.unreadable))
    return RebuildReport(replayed, tuple(unreadable))


def rebuild(engine: Engine, settings: PipelineSettings, batch_size: int = DEFAULT_BATCH_SIZE,
            progress: Callable[[int], None] | None = None,
            now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> RebuildReport:
    """Drop and replay in one transaction: readers see the old projections until it commits.
    On PostgreSQL appends wait meanwhile (a SHARE lock on events), and running projectors wait
    for their partitions (the position rows are locked)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("LOCK TABLE events IN SHARE MODE"))
            conn.execute(sa.select(projector_positions.c.partition).with_for_update())
        clear_projections(conn)
        return replay(conn, settings, now(), batch_size, progress)
