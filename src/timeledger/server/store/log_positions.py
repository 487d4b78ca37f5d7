"""Where projection stands in the log: each partition's position, the log's head, what a job needs.

A position `(xact, seq)` means every row of its partition up to it, in `(xact, seq)` order, is
projected. On SQLite `xact` is always 0 and the one partition is the whole log (entities too), so
the position is simply the last `seq` projected. On PostgreSQL rows commit out of `seq` order, so
each partition is read in `(xact, seq)` order behind the oldest running transaction
(store/commit_order.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from timeledger.server.store.commit_order import follows_transactions
from timeledger.server.store.schema import events, projector_positions


@dataclass(frozen=True, slots=True, order=True)
class Position:
    xact: int
    seq: int


@dataclass(frozen=True, slots=True)
class PartitionState:
    position: Position
    event_time: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProjectedThrough:
    """How far the projections go: `seq` is a log position every projection has passed (the
    lowest behind the head, or the head itself), `event_time` the newest projected eventTime."""

    seq: int
    event_time: datetime | None
    caught_up: bool


Needs = dict[int, Position]


def read_positions(conn: sa.Connection) -> dict[int, PartitionState]:
    rows = conn.execute(sa.select(projector_positions))
    return {row.partition: PartitionState(Position(row.xact, row.seq), row.event_time,
                                          row.updated_at) for row in rows}


def log_heads(conn: sa.Connection) -> Needs:
    """The newest visible row of each partition: what a reader that arrives now must wait for."""
    if not follows_transactions(conn):
        newest = conn.execute(sa.select(sa.func.max(events.c.seq))).scalar_one()
        return {0: Position(0, int(newest))} if newest is not None else {}
    newest_rows = sa.text(
        "SELECT p.partition, h.xact, h.seq FROM projector_positions p "
        "CROSS JOIN LATERAL (SELECT e.xact, e.seq FROM events e WHERE e.partition = p.partition "
        "ORDER BY e.xact DESC, e.seq DESC LIMIT 1) h")
    return {row.partition: Position(row.xact, row.seq) for row in conn.execute(newest_rows)}


def passed(positions: dict[int, PartitionState], needs: Needs) -> bool:
    return all(partition in positions and positions[partition].position >= position
               for partition, position in needs.items())


def projected_through(conn: sa.Connection) -> ProjectedThrough:
    positions = read_positions(conn)
    heads = log_heads(conn)
    behind = [positions[p].position.seq for p, head in heads.items()
              if p not in positions or positions[p].position < head]
    times = [state.event_time for state in positions.values() if state.event_time is not None]
    newest = max(times, default=None)
    if behind:
        return ProjectedThrough(min(behind), newest, False)
    return ProjectedThrough(max((h.seq for h in heads.values()), default=0), newest, True)


def needs_to_json(needs: Needs) -> str | None:
    if not needs:
        return None
    return orjson.dumps({str(p): [pos.xact, pos.seq] for p, pos in needs.items()}).decode()


def needs_from_json(text: str | None) -> Needs:
    if not text:
        return {}
    raw: dict[str, Any] = orjson.loads(text)
    return {int(p): Position(int(x), int(s)) for p, (x, s) in raw.items()}
