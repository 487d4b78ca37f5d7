"""Runs indexed by (learner_email, activity_id, last_seen): the newest runs of one activity."""
# Revision 0019, after 0018.

from __future__ import annotations

from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_runs_learner_activity', 'runs',
                    ['learner_email', 'activity_id', 'last_seen'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_runs_learner_activity', table_name='runs')
