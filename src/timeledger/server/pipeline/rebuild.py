"""Rebuild: clear the projections and replay every stored Timeback event through the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.caliper.errors import CaliperError
from timeledger.caliper.timeback import TIMEBACK_PROFILE, facts_of, parse_timeback_event
from timeledger.server.pipeline import project_events
from timeledger.server.pipeline.model import PipelineSettings, StoredTimebackEvent
from timeledger.server.pipeline.tables import PROJECTION_TABLES
from timeledger.server.store.schema import events

DEFAULT_BATCH_SIZE = 500

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


def replay(conn: sa.Connection, settings: PipelineSettings, batch_size: int = DEFAULT_BATCH_SIZE,
           progress: Callable[[int], None] | None = None) -> RebuildReport:
    """Feed every Timeback event, in seq order and in batches of `batch_size`, to the pipeline."""
    last_seq = 0
    replayed = 0
    unreadable: list[int] = []
    while True:
        rows = conn.execute(
            sa.select(events.c.seq, events.c.body, events.c.received_at)
            .where(_TIMEBACK, events.c.seq > last_seq).order_by(events.c.seq).limit(batch_size)
        ).all()
        if not rows:
            break
        batch: list[StoredTimebackEvent] = []
        for row in rows:
            try:
                event = parse_timeback_event(orjson.loads(row.body), f"events[{row.seq}]")
            except (CaliperError, orjson.JSONDecodeError):
                unreadable.append(row.seq)
                continue
            batch.append(StoredTimebackEvent(row.seq, facts_of(event), row.received_at))
        project_events(conn, batch, settings)
        replayed += len(batch)
        last_seq = rows[-1].seq
        if progress is not None:
            progress(len(rows))
    return RebuildReport(replayed, tuple(unreadable))


def rebuild(engine: Engine, settings: PipelineSettings, batch_size: int = DEFAULT_BATCH_SIZE,
            progress: Callable[[int], None] | None = None) -> RebuildReport:
    """Drop and replay in one transaction: readers see the old projections until it commits.
    On PostgreSQL the events table is locked against appends meanwhile, so none is missed."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("LOCK TABLE events IN SHARE MODE"))
        clear_projections(conn)
        return replay(conn, settings, batch_size, progress)
