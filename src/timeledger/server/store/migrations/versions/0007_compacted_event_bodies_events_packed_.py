"""Compacted event bodies: events.packed, compression dictionaries, compaction progress."""
# ruff: noqa: E501
# Revision 0007, after 0006; generated 2026-11-30 12:19:56.859789.

from __future__ import annotations

import sqlalchemy as sa
import zstandard
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('compaction_progress',
    sa.Column('id', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('compacted_through', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('compression_dictionaries',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('trained_through_seq', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('packed', sa.LargeBinary(), nullable=True))
    op.execute("INSERT INTO compaction_progress (id, compacted_through) VALUES (1, 0)")


def downgrade() -> None:
    _unpack_every_body()
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('packed')

    op.drop_table('compression_dictionaries')
    op.drop_table('compaction_progress')


def _unpack_every_body() -> None:
    """Before `packed` goes, each compacted body becomes text again (written here with zstandard
    alone, as the code that packed it may be gone)."""
    conn = op.get_bind()
    dictionaries = {row.id: zstandard.ZstdCompressionDict(row.data) for row in conn.execute(
        sa.text("SELECT id, data FROM compression_dictionaries"))}
    last = 0
    while True:
        rows = conn.execute(sa.text(
            "SELECT seq, packed FROM events WHERE packed IS NOT NULL AND seq > :last "
            "ORDER BY seq LIMIT 1000"), {"last": last}).all()
        if not rows:
            return
        updates = []
        for row in rows:
            frame = bytes(row.packed)
            dictionary = dictionaries[zstandard.get_frame_parameters(frame).dict_id]
            text = zstandard.ZstdDecompressor(dict_data=dictionary).decompress(frame)
            updates.append({"seq": row.seq, "body": text.decode()})
        conn.execute(sa.text("UPDATE events SET body = :body, packed = NULL WHERE seq = :seq"),
                     updates)
        last = rows[-1].seq
