"""The dashboard's access tables: admin accounts, share links and sessions, secrets hashed."""

from __future__ import annotations

import sqlalchemy as sa

from timeledger.server.store.schema import UtcDateTime, metadata

dashboard_admins = sa.Table(
    "dashboard_admins",
    metadata,
    sa.Column("username", sa.String(100), primary_key=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    # set: the account is this roster teacher's and sees only the learners of their classes
    sa.Column("teacher_sourced_id", sa.String(255)),
)

dashboard_share_links = sa.Table(
    "dashboard_share_links",
    metadata,
    sa.Column("link_id", sa.String(32), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("learner_email", sa.String(320), nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime()),
)

dashboard_sessions = sa.Table(
    "dashboard_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),  # "admin" or "learner"
    sa.Column("subject", sa.String(320), nullable=False),  # username or learner email
    sa.Column("link_id", sa.String(32)),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
)
sa.Index("ix_dashboard_sessions_expires", dashboard_sessions.c.expires_at)
