"""run_windows narrow on SQLite; compacted events drop body_hash, job_id and what columns give."""
# Revision 0018, after 0017.
#
# run_windows has a row per heartbeat. On SQLite it becomes a WITHOUT ROWID table (its primary
# key is the table, not a second B-tree beside it) with event_time, start_at and end_at as
# integer microseconds since 1970 (UtcMicroseconds) instead of 26-character text. PostgreSQL
# keeps its table: timestamptz is 8 bytes there already.
#
# Compaction now empties body_hash and job_id of the rows it packs and leaves out of a packed
# body the fields the row's columns give (store/compaction.py): the upgrade changes no rows; the
# downgrade puts each packed row's digest back, which older code compares a resent event
# against, and turns bodies packed without those fields back into text.

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
import zstandard
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_TIMES = ("event_time", "start_at", "end_at")
_COLUMNS = ("run_id", "window_key", "seq", "event_id", "event_time", "start_at", "end_at",
            "bounds_reported", "active_ms", "inactive_ms", "other_ms", "overlap_event_id")


def _create(time_type: str, without_rowid: bool) -> None:
    op.execute(f"""
        CREATE TABLE run_windows_new (
            run_id VARCHAR(64) NOT NULL,
            window_key VARCHAR(40) NOT NULL,
            seq BIGINT NOT NULL,
            event_id VARCHAR(200) NOT NULL,
            event_time {time_type} NOT NULL,
            start_at {time_type} NOT NULL,
            end_at {time_type} NOT NULL,
            bounds_reported BOOLEAN NOT NULL,
            active_ms BIGINT NOT NULL,
            inactive_ms BIGINT NOT NULL,
            other_ms BIGINT NOT NULL,
            overlap_event_id VARCHAR(200),
            PRIMARY KEY (run_id, window_key)
        ){" WITHOUT ROWID" if without_rowid else ""}""")


def _copy(convert: str) -> None:
    """Copy every row into run_windows_new, each time through `convert` ({0}: the column)."""
    values = ", ".join(convert.format(name) if name in _TIMES else name for name in _COLUMNS)
    op.execute(f"INSERT INTO run_windows_new ({', '.join(_COLUMNS)}) "
               f"SELECT {values} FROM run_windows")
    op.drop_index('ix_run_windows_end', table_name='run_windows')
    op.drop_table('run_windows')
    op.rename_table('run_windows_new', 'run_windows')
    op.create_index('ix_run_windows_end', 'run_windows', ['run_id', 'end_at'], unique=False)


# UtcDateTime's text on SQLite is 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC).
_TEXT_TO_MICROS = ("(CAST(strftime('%s', substr({0}, 1, 19)) AS INTEGER) * 1000000"
                   " + CAST(substr({0} || '.000000', 21, 6) AS INTEGER))")
_MICROS_TO_TEXT = ("(datetime(({0} - (({0} % 1000000) + 1000000) % 1000000) / 1000000, "
                   "'unixepoch') || printf('.%06d', (({0} % 1000000) + 1000000) % 1000000))")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _create("BIGINT", without_rowid=True)
    _copy(_TEXT_TO_MICROS)


def downgrade() -> None:
    conn = op.get_bind()
    _restore_body_hashes(conn)
    if conn.dialect.name != "sqlite":
        return
    _create("DATETIME", without_rowid=False)
    _copy(_MICROS_TO_TEXT)


def _restore_body_hashes(conn: sa.Connection) -> None:
    """Each compacted row's body_hash (sha256 of the event's JSON with sorted keys, as the append
    computes it); a body packed without the fields its columns give becomes text again, as code
    before this revision cannot read it (written here with zstandard alone, as in 0007)."""
    dictionaries: dict[int, zstandard.ZstdCompressionDict] = {
        dict_id: zstandard.ZstdCompressionDict(bytes(data)) for dict_id, data in conn.execute(
            sa.text("SELECT id, data FROM compression_dictionaries"))}
    last = 0
    while True:
        rows = conn.execute(sa.text(
            "SELECT seq, packed, event_id, event_time, actor_id, learner_email, run_id "
            "FROM events WHERE seq > :last AND body_hash = '' AND packed IS NOT NULL "
            "ORDER BY seq LIMIT 1000"), {"last": last}).all()
        if not rows:
            return
        hashes, texts = [], []
        for row in rows:
            packed = bytes(row.packed)
            frame = packed[2:] if packed[0] == _TAKEN_OUT else packed
            dictionary = dictionaries[zstandard.get_frame_parameters(frame).dict_id]
            event = orjson.loads(zstandard.ZstdDecompressor(dict_data=dictionary)
                                 .decompress(frame))
            if packed[0] == _TAKEN_OUT:
                _put_back(event, packed[1], row)
                texts.append({"seq": row.seq, "body": orjson.dumps(event).decode()})
            hashes.append({"seq": row.seq, "digest": hashlib.sha256(
                orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()})
        conn.execute(sa.text("UPDATE events SET body_hash = :digest WHERE seq = :seq"), hashes)
        if texts:
            conn.execute(sa.text("UPDATE events SET body = :body, packed = NULL WHERE seq = :seq"),
                         texts)
        last = rows[-1].seq


_TAKEN_OUT = 0x01  # store/event_bodies.py: the mask of store/column_fields.py, then the frame


def _put_back(event: dict[str, Any], mask: int, row: Any) -> None:
    run_urn = None if row.run_id is None else f"urn:uuid:{row.run_id}"
    fields = ((("id",), row.event_id), (("eventTime",), _utc_text(row.event_time)),
              (("actor", "id"), row.actor_id), (("actor", "email"), row.learner_email),
              (("extensions", "runId"), row.run_id), (("session",), run_urn))
    for bit, (path, value) in enumerate(fields):
        if mask & (1 << bit):
            parent = event
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = value


def _utc_text(value: datetime | str | None) -> str | None:
    """eventTime as the column gives it back: `2025-01-15T10:05:00.000Z`."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{moment.microsecond // 1000:03d}Z"
