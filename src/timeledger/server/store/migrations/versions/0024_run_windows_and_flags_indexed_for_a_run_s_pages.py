"""A run's windows indexed by (run_id, start_at, seq) and its flags by (run_id, first_seq,
flag_key): the pages of GET /api/v1/runs/{id}/windows and /flags read by key.

`GET /api/v1/runs/{id}` listed every window of a run sorted by start; a page of them now walks
this index from its cursor (on SQLite it takes about 48 bytes a window, measured with dbstat on
10,000 windows: run_windows and ix_run_windows_end take about 97 and 45). The flags index
replaces `ix_flags_run`, whose lookups it serves."""
# Revision 0024, after 0023.

from __future__ import annotations

from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_run_windows_start', 'run_windows', ['run_id', 'start_at', 'seq'],
                    unique=False)
    op.create_index('ix_flags_run_seq', 'flags', ['run_id', 'first_seq', 'flag_key'],
                    unique=False)
    op.drop_index('ix_flags_run', table_name='flags')


def downgrade() -> None:
    op.create_index('ix_flags_run', 'flags', ['run_id'], unique=False)
    op.drop_index('ix_flags_run_seq', table_name='flags')
    op.drop_index('ix_run_windows_start', table_name='run_windows')
