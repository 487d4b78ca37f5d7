"""Index run windows by end so the overlap check reads one range per run."""
# ruff: noqa: E501
# Revision 0003, after 0002; generated 2026-11-22 11:02:09.837929.

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('run_windows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_windows_start'))
        batch_op.create_index('ix_run_windows_end', ['run_id', 'end_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('run_windows', schema=None) as batch_op:
        batch_op.drop_index('ix_run_windows_end')
        batch_op.create_index(batch_op.f('ix_run_windows_start'), ['run_id', 'start_at'], unique=False)

