"""Events indexed by (learner_email, seq) and (type, seq): a learner's or a type's page of the log.

Every reader of the log pages it by `seq`. A learner's newest page walked the log back from its
head, and a type's page sorted every event of the type (its index was (type, event_time), which
this replaces)."""
# Revision 0025, after 0024.

from __future__ import annotations

from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_events_learner_seq', 'events', ['learner_email', 'seq'], unique=False)
    op.create_index('ix_events_type_seq', 'events', ['type', 'seq'], unique=False)
    op.drop_index('ix_events_type_time', table_name='events')


def downgrade() -> None:
    op.create_index('ix_events_type_time', 'events', ['type', 'event_time'], unique=False)
    op.drop_index('ix_events_type_seq', table_name='events')
    op.drop_index('ix_events_learner_seq', table_name='events')
