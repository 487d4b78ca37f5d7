"""Runs indexed by (last_seen, run_id) and (course_id, last_seen, run_id): the runs list's pages.

`GET /api/v1/runs` without `learner=` sorted every run (or every run of the course) to answer its
newest page; these indexes give each page in list order. The course index replaces
`ix_runs_course`, whose lookups it serves as well."""
# Revision 0023, after 0022.

from __future__ import annotations

from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_runs_last_seen', 'runs', ['last_seen', 'run_id'], unique=False)
    op.create_index('ix_runs_course_last_seen', 'runs', ['course_id', 'last_seen', 'run_id'],
                    unique=False)
    op.drop_index('ix_runs_course', table_name='runs')


def downgrade() -> None:
    op.create_index('ix_runs_course', 'runs', ['course_id'], unique=False)
    op.drop_index('ix_runs_course_last_seen', table_name='runs')
    op.drop_index('ix_runs_last_seen', table_name='runs')
