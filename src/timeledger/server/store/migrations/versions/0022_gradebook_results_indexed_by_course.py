"""Gradebook results indexed by course, then their key (a course's gradebook pages by key)."""
# Revision 0022, after 0021.

from __future__ import annotations

from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('gradebook_results', schema=None) as batch_op:
        batch_op.create_index('ix_gradebook_results_course_key',
                              ['course_id', 'learner_email', 'activity_id', 'attempt'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('gradebook_results', schema=None) as batch_op:
        batch_op.drop_index('ix_gradebook_results_course_key')
