"""Compact projected events: each body becomes a zstd frame packed with a dictionary trained on the
store's own events, so the log takes a fraction of the room on disk. Never on the request path.

The caller (the projector) says how far the log is projected; `compact_events` goes on from where
it last stopped, in `seq` order, inside the caller's transaction: a rollback leaves every row as it
was, and every row, compacted or not, reads back through `store.event_bodies.event_body`.

A compacted row is deleted and inserted again with the same values but `body`, `body_hash` and
`job_id` empty and `packed` set: an UPDATE that shrinks rows leaves SQLite's pages as sparse as
before, while a delete lets it merge them; the pages it frees go back (`release_free_pages`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from timeledger.server.store import compression_dictionaries
from timeledger.server.store.compression_dictionaries import BodyDictionary
from timeledger.server.store.database import insert
from timeledger.server.store.event_bodies import (
    BODY_COLUMNS,
    COMPACTED,
    DIGEST_NOT_STORED,
    event_body,
    pack,
    packing_sample,
)
from timeledger.server.store.schema import compaction_progress, events

MAX_BATCH = 10_000
# Any constant will do: it names the lock that lets one PostgreSQL transaction compact at a time.
_PG_COMPACTION_LOCK = 0x74_6C_63_6F_6D_70_61_63  # "tlcompac"


@dataclass(frozen=True, slots=True)
class CompactionPolicy:
    """When dictionaries are trained, and how hard zstd works (see docs/pipeline.md)."""

    first_training_events: int = 1000  # no compaction until the log has this many events
    retrain_growth: int = 10  # a new dictionary each time the log grows this many times over
    training_samples: int = 2000  # the newest events up to `through_seq`
    dictionary_bytes: int = 64 * 1024
    level: int = 3

    def __post_init__(self) -> None:
        if self.first_training_events < compression_dictionaries.MIN_SAMPLES:
            raise ValueError(f"first_training_events must be at least "
                             f"{compression_dictionaries.MIN_SAMPLES}")
        if self.training_samples < self.first_training_events:
            raise ValueError("training_samples must be at least first_training_events")
        if self.retrain_growth < 2:
            raise ValueError("retrain_growth must be at least 2")


DEFAULT_POLICY = CompactionPolicy()


def compact_events(conn: sa.Connection, through_seq: int, limit: int,
                   policy: CompactionPolicy = DEFAULT_POLICY) -> int:
    """Compact up to `limit` events past the last compacted one, none past `through_seq`.

    Returns how many events it went past: each is now compacted, or stays text when packing did
    not make it smaller. 0 means nothing is left up to `through_seq`, or too few events have been
    stored to train a first dictionary. An event with a smaller `seq` that commits after
    compaction passed it (PostgreSQL commits out of `seq` order) stays text: still readable.
    On PostgreSQL a transaction that finds another one compacting returns 0 at once."""
    if not 1 <= limit <= MAX_BATCH:
        raise ValueError(f"limit must be between 1 and {MAX_BATCH}, not {limit}")
    if conn.dialect.name == "postgresql" and not conn.execute(
            sa.select(sa.func.pg_try_advisory_xact_lock(_PG_COMPACTION_LOCK))).scalar_one():
        return 0
    start = compacted_through(conn)
    if through_seq <= start:
        return 0
    dictionary = _dictionary(conn, through_seq, policy)
    if dictionary is None:
        return 0
    rows = _raw_rows(conn, start, through_seq, limit)
    if not rows:
        return 0
    packer = dictionary.packer(policy.level)
    columns = _event_columns(conn, rows[0][_SEQ], rows[-1][_SEQ])
    repacked: list[tuple[Any, ...]] = []
    for row in rows:
        if row[_PACKED] is not None:
            continue
        text = row[_BODY].encode()
        packed = pack(packer, text, columns[row[_SEQ]])
        if len(packed) < len(text):
            values = list(row)
            values[_BODY], values[_PACKED] = "", packed
            # Only the append reads these, and only for rows it has just written or that come
            # again: the digest is computed from the body then (store.event_bodies).
            values[_BODY_HASH], values[_JOB_ID] = DIGEST_NOT_STORED, COMPACTED
            repacked.append(tuple(values))
    if repacked:
        conn.execute(events.delete().where(events.c.seq.in_([r[_SEQ] for r in repacked])))
        conn.exec_driver_sql(_statement(conn, "INSERT INTO events ({columns}) VALUES ({marks})"),
                             repacked)
        if conn.dialect.name == "sqlite":
            release_free_pages(conn)
    _record_progress(conn, rows[-1][_SEQ])
    return len(rows)


def release_free_pages(conn: sa.Connection) -> int:
    """SQLite with `auto_vacuum=INCREMENTAL` (a store made since store/database.py sets it):
    give the file's free pages back, so its size on disk is what its rows take; how many.

    Compaction frees pages faster than appends take them back up (it shrinks every row it
    passes), so they would otherwise stay in the file. A store made before keeps `auto_vacuum`
    off until a `VACUUM` (docs/pipeline.md) and its free pages wait for new rows instead."""
    if conn.exec_driver_sql("PRAGMA auto_vacuum").scalar_one() != _INCREMENTAL:
        return 0
    free = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())
    # Python's sqlite3 steps a statement that returns no rows once, and each step of
    # incremental_vacuum frees one page: one execution per page, on the driver's own cursor.
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for _ in range(free):
            cursor.execute("PRAGMA incremental_vacuum(1)")
    finally:
        cursor.close()
    return free


_INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL


# Rows are copied as the driver gives them, so each value goes back exactly as it was stored.
_COLUMNS = [column.name for column in events.columns]
_SEQ, _BODY, _PACKED, _BODY_HASH, _JOB_ID = (
    _COLUMNS.index(name) for name in ("seq", "body", "packed", "body_hash", "job_id"))


def _statement(conn: sa.Connection, template: str) -> str:
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return template.format(columns=", ".join(quote(name) for name in _COLUMNS),
                           marks=", ".join(mark for _ in _COLUMNS), mark=mark)


def _raw_rows(conn: sa.Connection, start: int, through_seq: int,
              limit: int) -> list[tuple[Any, ...]]:
    sql = _statement(conn, "SELECT {columns} FROM events WHERE seq > {mark} AND seq <= {mark} "
                           "ORDER BY seq LIMIT {mark}")
    return [tuple(row) for row in conn.exec_driver_sql(sql, (start, through_seq, limit))]


def _event_columns(conn: sa.Connection, first: int, last: int) -> dict[int, Any]:
    """The columns a packed body may leave out, as readers see them (through the column types,
    where `_raw_rows` has what the driver gives), by `seq`."""
    return {row.seq: row for row in conn.execute(
        sa.select(events.c.seq, *BODY_COLUMNS).where(events.c.seq.between(first, last)))}


def compacted_through(conn: sa.Connection) -> int:
    """Every event up to this `seq` has been examined (0 before the first compaction)."""
    value = conn.execute(sa.select(compaction_progress.c.compacted_through)
                         .where(compaction_progress.c.id == 1)).scalar_one_or_none()
    return int(value or 0)


def _record_progress(conn: sa.Connection, seq: int) -> None:
    stmt = insert(compaction_progress, conn.dialect.name).values(id=1, compacted_through=seq)
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"],
                                            set_={"compacted_through": seq}))


def _dictionary(conn: sa.Connection, through_seq: int,
                policy: CompactionPolicy) -> BodyDictionary | None:
    """The newest dictionary, after training a first one, or a new one once the log has grown
    `retrain_growth` times past the events the newest was trained on."""
    current = compression_dictionaries.newest(conn)
    if current is not None and through_seq < policy.retrain_growth * current.trained_through_seq:
        return current
    rows = conn.execute(sa.select(events.c.seq, *BODY_COLUMNS)
                        .where(events.c.seq <= through_seq).order_by(events.c.seq.desc())
                        .limit(policy.training_samples)).all()
    if len(rows) < policy.first_training_events:
        return current
    samples = [packing_sample(event_body(conn, row).encode(), row) for row in rows]
    trained = compression_dictionaries.train(samples, policy.dictionary_bytes, policy.level)
    if trained is None:
        return current
    return compression_dictionaries.store(conn, trained, rows[0].seq) or current
