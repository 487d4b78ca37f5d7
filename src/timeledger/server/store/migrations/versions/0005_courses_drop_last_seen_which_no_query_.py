"""Courses drop last_seen, which no query read and every event locked."""
# ruff: noqa: E501
# Revision 0005, after 0004; generated 2026-11-22 13:13:54.114890.

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_column('last_seen')


def downgrade() -> None:
    # Each course's newest event is not kept anywhere else: the first one stands in for it.
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seen', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE courses SET last_seen = first_seen")
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.alter_column('last_seen', existing_type=sa.DateTime(timezone=True), nullable=False)
