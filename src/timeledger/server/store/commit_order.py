"""Follow the event log as it grows without missing rows that commit out of `seq` order.

On SQLite one writer commits at a time, so `seq` order is commit order and "newer than the
last `seq` seen" is a complete cursor. On PostgreSQL several transactions (processes, or a
group commit beside an import) take `seq` values and commit in any order: a row with a lower
`seq` can appear after a higher one was read. There each row records its writing transaction
(`events.xact`), and a reader only takes rows of transactions older than every transaction
still running, in `(xact, seq)` order: once such a row is visible, nothing can appear before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from timeledger.server.store.schema import events

# The largest `seq` (a signed 64-bit integer on both dialects): a cursor past it is an error.
MAX_SEQ = 2**63 - 1


def _as_bigint(xid8: sa.ColumnElement[object]) -> sa.ColumnElement[int]:
    return sa.cast(sa.cast(xid8, sa.Text), sa.BigInteger)


# The id of the transaction running the statement (PostgreSQL 13+).
WRITING_TRANSACTION = _as_bigint(sa.func.pg_current_xact_id())
# Every transaction with a lower id has committed or aborted.
SETTLED_BELOW = _as_bigint(sa.func.pg_snapshot_xmin(sa.func.pg_current_snapshot()))


def follows_transactions(conn: sa.Connection) -> bool:
    return conn.dialect.name == "postgresql"


@dataclass(frozen=True, slots=True)
class LogCursor:
    """Where a reader of the log stands: past every row up to `(xact, seq)`."""

    seq: int
    xact: int | None = None  # set on PostgreSQL only

    def token(self) -> str:
        return str(self.seq) if self.xact is None else f"{self.xact}.{self.seq}"

    @classmethod
    def parse(cls, token: str) -> LogCursor:
        """The cursor a `token()` wrote; ValueError for anything else."""
        xact, dot, seq = token.strip().rpartition(".")
        cursor = cls(int(seq), int(xact) if dot else None)
        if not 0 <= cursor.seq <= MAX_SEQ or (
                cursor.xact is not None and not 0 <= cursor.xact <= MAX_SEQ):
            raise ValueError(f"not a cursor: {token!r}")
        return cursor


@dataclass(frozen=True, slots=True)
class Settled:
    """The rows a reader may take now: `condition` selects them, `cursor` is just past them."""

    condition: sa.ColumnElement[bool]
    cursor: LogCursor


def settled(conn: sa.Connection) -> Settled:
    """Read first, in its own statement: every row it admits is then visible to the next one."""
    if follows_transactions(conn):
        below = int(conn.execute(sa.select(SETTLED_BELOW)).scalar_one())
        # Rows from before the column existed have no xact; they are long settled.
        return Settled(sa.or_(events.c.xact.is_(None), events.c.xact < below),
                       LogCursor(0, below))
    newest = int(conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(events.c.seq), 0))).scalar_one())
    return Settled(events.c.seq <= newest, LogCursor(newest))


def after(cursor: LogCursor, conn: sa.Connection) -> tuple[sa.ColumnElement[bool],
                                                           list[sa.ColumnElement[object]]]:
    """The condition for rows past `cursor`, and the order that reads them oldest first."""
    if follows_transactions(conn):
        if cursor.xact is None:  # a cursor from before the reader knew the dialect
            return events.c.seq > cursor.seq, [events.c.seq]
        return (sa.tuple_(events.c.xact, events.c.seq) > sa.tuple_(cursor.xact, cursor.seq),
                [events.c.xact, events.c.seq])
    return events.c.seq > cursor.seq, [events.c.seq]
