"""run_windows is narrow on SQLite (migration 0018): its times as integer microseconds, its
primary key the table; windows stored before keep their values, up and down."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.server.pipeline.upserts import insert_new
from timeledger.server.store.interned_texts import text_ids
from timeledger.server.store.migrate import downgrade, upgrade
from timeledger.server.store.projection_tables import run_windows
from timeledger.server.store.schema import UtcMicroseconds

# As UtcDateTime stored them on SQLite before 0018: naive UTC text with microseconds.
TEXTS = ["2025-03-03 08:00:15.000000", "2025-03-03 08:00:00.123456", "1969-12-31 23:59:59.500001",
         "2100-01-01 00:00:00.999999"]


def _insert_before(engine: Engine) -> None:
    with engine.begin() as conn:
        for n, text in enumerate(TEXTS):
            conn.execute(sa.text(
                "INSERT INTO run_windows (run_id, window_key, seq, event_id, event_time, "
                "start_at, end_at, bounds_reported, active_ms, inactive_ms, other_ms, "
                "overlap_event_id) VALUES ('run', :key, :seq, :event, :text, :text, :text, 1, "
                "12000, 3000, 0, NULL)"), {"key": f"s:{n}", "seq": n + 1, "event": f"e{n}",
                                             "text": text})


def _run_key(conn: sa.Connection, run_id: str) -> str | int | None:
    """`run_id` as the projector writes it through the driver: on SQLite since 0032 the id of
    its interned text."""
    return text_ids(conn, [run_id])[run_id] if conn.dialect.name == "sqlite" else run_id


def _raw(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT window_key, event_time, start_at, end_at, typeof(end_at) FROM run_windows "
            "ORDER BY window_key"))]


@pytest.mark.backends("sqlite")  # PostgreSQL keeps its run_windows (timestamptz is 8 bytes)
def test_windows_keep_their_times_through_the_upgrade_and_back(backend: object,
                                                               engine: Engine) -> None:
    upgrade(engine, "0017")
    _insert_before(engine)
    before = _raw(engine)
    upgrade(engine)
    with engine.connect() as conn:
        ddl = conn.execute(sa.text(
            "SELECT sql FROM sqlite_master WHERE name = 'run_windows'")).scalar_one()
        read = conn.execute(sa.select(run_windows.c.start_at).order_by(
            run_windows.c.window_key)).scalars().all()
        stored = conn.execute(sa.text(
            "SELECT end_at FROM run_windows ORDER BY window_key")).scalars().all()
    assert "WITHOUT ROWID" in ddl
    expected = [datetime.fromisoformat(text).replace(tzinfo=UTC) for text in TEXTS]
    assert read == expected
    assert stored == [round((at - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 10**6)
                      for at in expected]
    downgrade(engine, "0017")
    assert _raw(engine) == before
    assert {row[-1] for row in before} == {"text"}


def test_a_window_is_found_by_its_time_range_in_microseconds(backend: object,
                                                             engine: Engine) -> None:
    """Comparisons go through the type: a bound datetime is compared as the stored integer."""
    upgrade(engine)
    at = [datetime.fromisoformat(text).replace(tzinfo=UTC) for text in TEXTS]
    with engine.begin() as conn:
        insert_new(conn, run_windows, [{
            "run_id": _run_key(conn, "run"), "window_key": f"s:{n}", "seq": n + 1,
            "event_id": f"e{n}",
            "event_time": when, "start_at": when, "end_at": when, "bounds_reported": True,
            "active_ms": 1, "inactive_ms": 0, "other_ms": 0} for n, when in enumerate(at)],
            ["run_id", "window_key"], marker="seq")
        found = conn.execute(sa.select(run_windows.c.seq).where(
            run_windows.c.end_at > at[2], run_windows.c.end_at < at[3])
            .order_by(run_windows.c.end_at)).scalars().all()
    assert found == [2, 1]


KEYS = ["s:2025-03-03T08:00:00.000Z", "t:2025-03-03T08:00:15.123Z", "s:1969-12-31T23:59:59.999Z",
        "t:0999-01-01T00:00:00.001Z", "s:9999-12-31T23:59:59.999Z",
        # not in format_utc's form: kept as text
        "s:2025-03-03T08:00:00Z", "s:2025-03-03T08:00:00.000+00:00", "x:anything", "s:"]


def test_window_keys_are_integers_on_sqlite_and_read_back_as_written(backend: object,
                                                                    engine: Engine) -> None:
    upgrade(engine, "0019")
    with engine.begin() as conn:
        for n, key in enumerate(KEYS):
            conn.execute(sa.text(
                "INSERT INTO run_windows (run_id, window_key, seq, event_id, event_time, "
                "start_at, end_at, bounds_reported, active_ms, inactive_ms, other_ms) VALUES "
                "('run', :key, :seq, 'e', :at, :at, :at, true, 0, 0, 0)").bindparams(
                    sa.bindparam("at", type_=UtcMicroseconds())),
                {"key": key, "seq": n, "at": datetime(2025, 1, 1, tzinfo=UTC)})
    raw_before = _raw_keys(engine)
    upgrade(engine)
    with engine.connect() as conn:
        read = conn.execute(sa.select(run_windows.c.seq, run_windows.c.window_key)).all()
    assert dict(read) == dict(enumerate(KEYS))
    stored = {KEYS[int(str(seq))]: raw for seq, raw in _raw_keys(engine)}
    if engine.dialect.name == "sqlite":
        assert [type(stored[key]) for key in KEYS] == [int] * 5 + [str] * 4
        moments = [datetime.fromisoformat(key[2:]) for key in KEYS[:5]]
        assert [stored[key] for key in KEYS[:5]] == [
            (round((at - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000) * 2
             + (key[0] == "s")) for key, at in zip(KEYS, moments, strict=False)]
    # New rows written by the pipeline's path (the driver) agree with the migrated ones.
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM run_windows"))
        insert_new(conn, run_windows, [{
            "run_id": _run_key(conn, "run"), "window_key": key, "seq": n, "event_id": "e",
            "event_time": datetime(2025, 1, 1, tzinfo=UTC),
            "start_at": datetime(2025, 1, 1, tzinfo=UTC),
            "end_at": datetime(2025, 1, 1, tzinfo=UTC), "bounds_reported": True,
            "active_ms": 0, "inactive_ms": 0, "other_ms": 0} for n, key in enumerate(KEYS)],
            ["run_id", "window_key"], marker="seq")
    assert {KEYS[int(str(seq))]: raw for seq, raw in _raw_keys(engine)} == stored
    downgrade(engine, "0019")
    assert _raw_keys(engine) == raw_before


def _raw_keys(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return sorted((tuple(row) for row in conn.execute(sa.text(
            "SELECT seq, window_key FROM run_windows"))), key=lambda row: str(row[0]))


@pytest.mark.backends("sqlite")  # PostgreSQL's projectors read their partition through it
def test_the_partition_index_takes_no_room_on_sqlite(backend: object, engine: Engine) -> None:
    """On SQLite the projector reads the log by seq: no entry per event in ix_events_partition."""
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO events (event_id, body_hash, kind, type, sensor, received_at, job_id, "
            "event_time, body, partition) VALUES (:id, '', 'event', 'T', 's', 0, '', :time, "
            "'{}', 0)"), [{"id": f"e{n}", "time": f"2025-01-01 00:00:{n % 60:02d}.{n:06d}"}
                          for n in range(2000)])
        pages: dict[str, int] = dict(conn.execute(sa.text(
            "SELECT name, count(*) FROM dbstat WHERE name IN "
            "('ix_events_partition', 'ix_events_time') GROUP BY name")).all())
    assert pages == {"ix_events_partition": 1, "ix_events_time": pages["ix_events_time"]}
    assert pages["ix_events_time"] > 1  # the same rows in an index that holds them


RUN_IDS = ["0e16e9e8-1135-460f-b3e7-395546944311", "0E16E9E8-1135-460F-B3E7-395546944311",
           "app-run-7", "0e16e9e81135460fb3e7395546944311"]
EVENT_IDS = ["urn:uuid:cd209b87-6fe6-4016-8976-85ef8ce45b38",
             "cd209b87-6fe6-4016-8976-85ef8ce45b38",
             "urn:uuid:CD209B87-6FE6-4016-8976-85EF8CE45B38", "https://example.edu/events/1"]


def test_uuids_are_16_bytes_on_sqlite_and_read_back_as_written(backend: object,
                                                               engine: Engine) -> None:
    upgrade(engine, "0020")
    rows: list[dict[str, Any]] = [
        {"run_id": run_id, "window_key": f"k{n}", "seq": n, "event_id": event_id,
         "overlap_event_id": EVENT_IDS[-1 - n]}
        for n, (run_id, event_id) in enumerate(zip(RUN_IDS, EVENT_IDS, strict=True))]
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO run_windows (run_id, window_key, seq, event_id, event_time, start_at, "
            "end_at, bounds_reported, active_ms, inactive_ms, other_ms, overlap_event_id) VALUES "
            "(:run_id, :window_key, :seq, :event_id, :at, :at, :at, true, 0, 0, 0, "
            ":overlap_event_id)").bindparams(sa.bindparam("at", type_=UtcMicroseconds())),
            [{**row, "at": datetime(2025, 1, 1, tzinfo=UTC)} for row in rows])
    raw_before = _raw_ids(engine)
    upgrade(engine)
    columns = (run_windows.c.run_id, run_windows.c.window_key, run_windows.c.seq,
               run_windows.c.event_id, run_windows.c.overlap_event_id)
    with engine.connect() as conn:
        read = [dict(row._mapping) for row in conn.execute(
            sa.select(*columns).order_by(run_windows.c.seq))]
        by_run = conn.execute(sa.select(run_windows.c.seq).where(
            run_windows.c.run_id.in_(RUN_IDS[:2]), run_windows.c.event_id == EVENT_IDS[0])
        ).scalars().all()
    assert read == rows
    assert by_run == [0]
    if engine.dialect.name == "sqlite":
        stored = _raw_ids(engine)
        # the run ids interned since 0032 (test_interned_run_windows.py)
        assert [[type(value) for value in row[1:]] for row in stored] == [
            [int, bytes, str], [int, str, str], [int, str, str], [int, str, bytes]]
        # The pipeline's path (the driver, the dedupe lookup by key tuple) agrees.
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM run_windows"))
            full = [{**row, "run_id": _run_key(conn, row["run_id"]),
                     "event_time": datetime(2025, 1, 1, tzinfo=UTC),
                     "start_at": datetime(2025, 1, 1, tzinfo=UTC),
                     "end_at": datetime(2025, 1, 1, tzinfo=UTC), "bounds_reported": True,
                     "active_ms": 0, "inactive_ms": 0, "other_ms": 0} for row in rows]
            assert insert_new(conn, run_windows, full, ["run_id", "window_key"],
                              marker="seq") == {0, 1, 2, 3}  # each found again by its key
            resent = [{**row, "seq": row["seq"] + 10} for row in full]
            assert insert_new(conn, run_windows, resent, ["run_id", "window_key"],
                              marker="seq") == set()  # the same keys: not stored again
        assert _raw_ids(engine) == stored
    downgrade(engine, "0020")
    assert _raw_ids(engine) == raw_before


def _raw_ids(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT seq, run_id, event_id, overlap_event_id FROM run_windows ORDER BY seq"))]
