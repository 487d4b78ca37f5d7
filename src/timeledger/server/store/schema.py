"""The tables the platform owns directly: events (append-only), jobs and API credentials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from timeledger.server.store.compact_keys import CaliperTerm, UuidText
from timeledger.server.store.interned_texts import TABLE as INTERNED_TABLE
from timeledger.server.store.interned_texts import InternedText

metadata = sa.MetaData()


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on both dialects (SQLite hands back naive values otherwise)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTime needs an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def utc_microseconds(value: datetime) -> int:
    """An aware datetime as whole microseconds since 1970 UTC (UtcMicroseconds on SQLite)."""
    if value.tzinfo is None:
        raise ValueError("UtcMicroseconds needs an aware datetime")
    return (value - _EPOCH) // _MICROSECOND


class UtcMicroseconds(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes, as an integer of microseconds since 1970 on SQLite (at most 8 bytes
    in the row and in every index, where UtcDateTime's text takes 26) and as `timestamptz` on
    PostgreSQL (8 bytes there already). For the tables with a row per event."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return utc_microseconds(value)
        if value.tzinfo is None:
            raise ValueError("UtcMicroseconds needs an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return _EPOCH + int(value) * _MICROSECOND
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    # A `urn:uuid:` id is its uuid's 16 bytes on SQLite (UuidText), in the row and the index.
    sa.Column("event_id", UuidText(200, prefix="urn:uuid:"), nullable=False, unique=True),
    sa.Column("body_hash", sa.String(64), nullable=False),
    # Caliper's terms are a byte's code on SQLite (CaliperTerm, store/term_codes.py).
    sa.Column("kind", CaliperTerm(10), nullable=False),  # "event" or "entity"
    sa.Column("type", CaliperTerm(100), nullable=False),
    sa.Column("action", CaliperTerm(100)),
    sa.Column("profile", CaliperTerm(100)),
    # The id of the text in interned_texts on SQLite (InternedText), read as the text.
    sa.Column("actor_id", InternedText(2000)),
    sa.Column("learner_email", InternedText(320)),
    # The id of the run id's text in interned_texts on SQLite (InternedText), read as the text.
    sa.Column("run_id", InternedText(64)),
    # Integer microseconds on SQLite (UtcMicroseconds): 8 bytes in the row and ix_events_time.
    sa.Column("event_time", UtcMicroseconds()),
    sa.Column("sensor", InternedText(2000), nullable=False),
    sa.Column("received_at", UtcMicroseconds(), nullable=False),
    sa.Column("job_id", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    # PostgreSQL only: the id of the transaction that wrote the row. Several processes commit
    # out of `seq` order there, so a live reader follows transactions, not `seq` (NULL on SQLite).
    sa.Column("xact", sa.BigInteger),
    # Which projector partition applies this event (a hash of the learner; store/partitions.py).
    # NULL for items with nothing to project (core Caliper entities and events).
    sa.Column("partition", sa.SmallInteger),
    # Once compacted (store/compaction.py): a zstd frame of `body`, which is then ''. The frame
    # names its dictionary (compression_dictionaries.id). Read bodies with store.event_bodies.
    sa.Column("packed", sa.LargeBinary),
)
sa.Index("ix_events_xact", events.c.xact, events.c.seq,
         postgresql_where=events.c.xact.isnot(None), sqlite_where=events.c.xact.isnot(None))
# Every reader of the log pages it by `seq` (the explorer, GET /caliper/events, export), so a
# learner's or a type's page is a walk of one of these from the cursor, however long the log.
sa.Index("ix_events_learner_seq", events.c.learner_email, events.c.seq)
sa.Index("ix_events_type_seq", events.c.type, events.c.seq)
sa.Index("ix_events_run", events.c.run_id)
sa.Index("ix_events_time", events.c.event_time)
# A projector reads one partition's rows past its position. On SQLite the log is one partition,
# read by `seq`, and `xact` is NULL: the index stays empty there (no entry per event).
sa.Index("ix_events_partition", events.c.partition, events.c.xact, events.c.seq,
         postgresql_where=events.c.partition.isnot(None),
         sqlite_where=sa.and_(events.c.partition.isnot(None), events.c.xact.isnot(None)))

# Each text once, under a small id, for the events columns of type InternedText on SQLite
# (store/interned_texts.py). Rows are only ever added. Empty on PostgreSQL.
interned_texts = sa.Table(
    INTERNED_TABLE,
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("value", sa.String(2000), nullable=False, unique=True),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(100)),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("processed_on", UtcDateTime()),
    sa.Column("results", sa.Text, nullable=False),
    # JSON {partition: [xact, seq]}: the newest row of this job each partition must project
    # before the job is complete. NULL when nothing in it needed projecting.
    sa.Column("needs", sa.Text),
)

projector_positions = sa.Table(  # how far each partition of the log has been projected
    "projector_positions",
    metadata,
    sa.Column("partition", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("xact", sa.BigInteger, nullable=False, server_default="0"),  # 0 on SQLite
    sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),
    # eventTime of the newest event projected (for `projected_through`)
    sa.Column("event_time", UtcDateTime()),
    sa.Column("updated_at", UtcDateTime()),
)

api_clients = sa.Table(
    "api_clients",
    metadata,
    sa.Column("client_id", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("secret_hash", sa.String(200), nullable=False),
    sa.Column("scopes", sa.String(500), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime()),
)

access_tokens = sa.Table(
    "access_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(100), nullable=False),
    sa.Column("scopes", sa.String(500), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
)

platform_settings = sa.Table(
    "platform_settings",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

compression_dictionaries = sa.Table(  # zstd dictionaries trained on the store's own events
    "compression_dictionaries",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),  # zstd's dictionary id
    sa.Column("created_at", UtcDateTime(), nullable=False,
              server_default=sa.func.current_timestamp()),
    sa.Column("trained_through_seq", sa.BigInteger, nullable=False),  # newest event sampled
    sa.Column("data", sa.LargeBinary, nullable=False),
)

compaction_progress = sa.Table(  # one row: every event with seq <= compacted_through was examined
    "compaction_progress",
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("compacted_through", sa.BigInteger, nullable=False),
)
