"""Events remember their writing transaction on PostgreSQL, for the live explorer."""
# ruff: noqa: E501
# Revision 0004, after 0003; generated 2026-11-22 12:55:20.082145.

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('xact', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_events_xact', ['xact', 'seq'], unique=False, postgresql_where=sa.text('xact IS NOT NULL'), sqlite_where=sa.text('xact IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_xact', postgresql_where=sa.text('xact IS NOT NULL'), sqlite_where=sa.text('xact IS NOT NULL'))
        batch_op.drop_column('xact')
