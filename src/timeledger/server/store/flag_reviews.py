"""Flag reviews: a person acknowledging or resolving a flag, with a note. Not a projection:
rebuild keeps them, and a flag raised again under the same key shows its reviews."""

from __future__ import annotations

from datetime import datetime

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


class ReviewError(ValueError):
    """A review that cannot be stored; `field` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def record_review(conn: sa.Connection, flag_key: str, status: str, note: str, reviewer: str,
                  at: datetime) -> None:
    """Store one review (the caller has checked that the flag or concern exists)."""
    if status not in REVIEW_STATUSES:
        raise ReviewError("status", f"Expected one of {', '.join(REVIEW_STATUSES)}, got "
                          f"{status[:50]!r}")
    if len(note) > MAX_NOTE_CHARS:
        raise ReviewError("note", f"A note holds at most {MAX_NOTE_CHARS} characters; this one "
                          f"has {len(note)}")
    if not flag_key or len(flag_key) > MAX_FLAG_KEY_CHARS:
        raise ReviewError("flag", f"Expected a flag key of 1 to {MAX_FLAG_KEY_CHARS} characters")
    conn.execute(flag_reviews.insert().values(flag_key=flag_key, status=status, note=note.strip(),
                                              reviewer=reviewer[:320], reviewed_at=at))
