"""${message.capitalize() if message else "Untitled"}."""
# ruff: noqa: E501
# Revision ${up_revision}, after ${down_revision or "none (the first)"}; generated ${create_date}.

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
