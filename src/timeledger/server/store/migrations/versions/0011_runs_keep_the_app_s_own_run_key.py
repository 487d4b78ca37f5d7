"""Runs keep the app's own run key (extensions.runKey: a runId that was not a UUID), indexed so a run is found by it."""
# ruff: noqa: E501
# Revision 0011, after 0010; written 2026-11-30 15:45.
# No SDK sent extensions.runKey before this revision, so there is nothing to fill in; a log holding
# events from another client that did is read again by `timeledger rebuild`.

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run_key', sa.String(length=256), nullable=True))
        batch_op.create_index('ix_runs_run_key', ['run_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index('ix_runs_run_key')
        batch_op.drop_column('run_key')
