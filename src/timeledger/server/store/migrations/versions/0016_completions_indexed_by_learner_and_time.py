"""Completions indexed by (learner_email, event_time): a learner's latest five are read by key."""
# Revision 0016, after 0015.

from __future__ import annotations

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_completions_learner_time', 'completions',
                    ['learner_email', 'event_time'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_completions_learner_time', table_name='completions')
