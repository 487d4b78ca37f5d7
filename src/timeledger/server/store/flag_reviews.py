"""Flag reviews: a person acknowledging or resolving a flag, with a note. Not a projection:
rebuild keeps them, and a flag raised again under the same key shows its reviews."""

from __future__ import annotations

import sqlalchemy as sa

from timeledger.server.store.schema import UtcDateTime, metadata

REVIEW_STATUSES = ("acknowledged", "resolved")
MAX_NOTE_CHARS = 2000
MAX_FLAG_KEY_CHARS = 1000

flag_reviews = sa.Table(
    "flag_reviews", metadata,
    sa.Column("review_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("flag_key", sa.String(MAX_FLAG_KEY_CHARS), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("reviewer", sa.String(320), nullable=False),
    sa.Column("reviewed_at", UtcDateTime(), nullable=False),
)
sa.Index("ix_flag_reviews_key", flag_reviews.c.flag_key, flag_reviews.c.review_id)
