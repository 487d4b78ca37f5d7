"""run_windows is narrow on SQLite (migration 0018): its times as integer microseconds, its
primary key the table; windows stored before keep their values, up and down."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.server.store.migrate import downgrade, upgrade
from timeledger.server.store.projection_tables import run_windows

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


def _raw(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT window_key, event_time, start_at, end_at, typeof(end_at) FROM run_windows "
            "ORDER BY window_key"))]


def test_windows_keep_their_times_through_the_upgrade_and_back(backend: object,
                                                               engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL keeps its run_windows (timestamptz is 8 bytes already)")
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
        conn.execute(run_windows.insert(), [{
            "run_id": "run", "window_key": f"s:{n}", "seq": n + 1, "event_id": f"e{n}",
            "event_time": when, "start_at": when, "end_at": when, "bounds_reported": True,
            "active_ms": 1, "inactive_ms": 0, "other_ms": 0} for n, when in enumerate(at)])
        found = conn.execute(sa.select(run_windows.c.seq).where(
            run_windows.c.end_at > at[2], run_windows.c.end_at < at[3])
            .order_by(run_windows.c.end_at)).scalars().all()
    assert found == [2, 1]
