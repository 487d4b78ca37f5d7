"""Appended events keep no digest (`body_hash` ''): the append makes it only when an id comes again.

Nothing changes in the schema or the rows on upgrade. Code before this revision reads '' as the
mark of a compacted row and would find the digest in the body only for compacted rows, so the
downgrade writes the digest of every plain row that has none (a compacted row's is written back
by 0018's downgrade)."""
# Revision 0027, after 0026.

from __future__ import annotations

import hashlib

import orjson
import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    pass


def downgrade() -> None:
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.text(
            "SELECT seq, body FROM events WHERE seq > :last AND body_hash = '' "
            "AND packed IS NULL ORDER BY seq LIMIT :batch"), {"last": last, "batch": _BATCH}).all()
        if not rows:
            return
        conn.execute(sa.text("UPDATE events SET body_hash = :digest WHERE seq = :seq"), [
            {"seq": row.seq, "digest": hashlib.sha256(orjson.dumps(
                orjson.loads(row.body), option=orjson.OPT_SORT_KEYS)).hexdigest()}
            for row in rows])
        last = rows[-1].seq
