"""Events drop ix_events_learner_time, which no query used and every append wrote."""
# ruff: noqa: E501
# Revision 0013, after 0012.
#
# The learner filter is `learner_email = ? OR actor_id = ?`; with actor_id unindexed neither
# SQLite nor PostgreSQL can use an index for the OR, so they scan either way (docs/scaling.md §7).
# The index cost about 60 bytes and one B-tree insert per event.

from __future__ import annotations

from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_events_learner_time', table_name='events')


def downgrade() -> None:
    op.create_index('ix_events_learner_time', 'events', ['learner_email', 'event_time'], unique=False)
