"""The tables the platform owns directly: events (append-only), jobs and API credentials."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

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


# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(200), nullable=False, unique=True),
    sa.Column("body_hash", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # "event" or "entity"
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("action", sa.String(100)),
    sa.Column("profile", sa.String(100)),
    sa.Column("actor_id", sa.String(2000)),
    sa.Column("learner_email", sa.String(320)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("event_time", UtcDateTime()),
    sa.Column("sensor", sa.String(2000), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("job_id", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    # PostgreSQL only: the id of the transaction that wrote the row. Several processes commit
    # out of `seq` order there, so a live reader follows transactions, not `seq` (NULL on SQLite).
    sa.Column("xact", sa.BigInteger),
)
sa.Index("ix_events_xact", events.c.xact, events.c.seq,
         postgresql_where=events.c.xact.isnot(None), sqlite_where=events.c.xact.isnot(None))
sa.Index("ix_events_learner_time", events.c.learner_email, events.c.event_time)
sa.Index("ix_events_type_time", events.c.type, events.c.event_time)
sa.Index("ix_events_run", events.c.run_id)
sa.Index("ix_events_time", events.c.event_time)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(100)),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("processed_on", UtcDateTime()),
    sa.Column("results", sa.Text, nullable=False),
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
