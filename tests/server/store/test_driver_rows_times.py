"""driver_params writes a time as UtcDateTime does on SQLite, remembering conversions across
calls (one completion's eventTime goes into many tables) without mixing up two instants that
compare equal (a zone's repeated hour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from timeledger.server.store.driver_rows import driver_params, execute_many, sql_marks
from timeledger.server.store.schema import UtcDateTime, UtcMicroseconds

_metadata = sa.MetaData()
_moments = sa.Table("moments", _metadata, sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("at", UtcDateTime()))
NEW_YORK = ZoneInfo("America/New_York")


def test_times_are_written_as_the_column_type_writes_them_in_every_call(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'moments.sqlite3'}")
    _metadata.create_all(engine)
    # 01:30 on 2025-11-02 comes twice in New York: EDT (fold=0), then EST (fold=1). The two
    # compare equal (same zone, fold ignored) and hash alike, yet are an hour apart.
    first = datetime(2025, 11, 2, 1, 30, tzinfo=NEW_YORK)
    second = first.replace(fold=1)
    assert first == second
    in_utc = datetime(2025, 11, 2, 5, 30, tzinfo=UTC)
    calls = [[in_utc, first], [second, in_utc], [second], [datetime(2025, 11, 2, 6, 30,
                                                                     tzinfo=UTC)]]
    with engine.begin() as conn:
        written = [driver_params(conn, [{"id": 0, "at": at} for at in times], ["id", "at"],
                                 _moments) for times in calls]
        texts = [[values[1] for values in call] for call in written]
        assert texts == [["2025-11-02 05:30:00.000000", "2025-11-02 05:30:00.000000"],
                         ["2025-11-02 06:30:00.000000", "2025-11-02 05:30:00.000000"],
                         ["2025-11-02 06:30:00.000000"], ["2025-11-02 06:30:00.000000"]]
        rows = [(index, text) for index, text in enumerate(t for call in texts for t in call)]
        execute_many(conn, f"INSERT INTO moments (id, at) VALUES ({sql_marks(conn, 2)})", rows)
    with engine.connect() as conn:  # read back through the column's type: the same instants
        read = [at for _id, at in conn.execute(sa.select(_moments).order_by(_moments.c.id))]
    assert read == [in_utc, in_utc, in_utc.replace(hour=6), in_utc, in_utc.replace(hour=6),
                    in_utc.replace(hour=6)]
    engine.dispose()


_instants = sa.Table("instants", _metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("at", UtcMicroseconds()), sa.Column("until", UtcMicroseconds()))


def test_microseconds_of_one_call_keep_a_repeated_hour_apart(tmp_path: Path) -> None:
    """The times of one call are converted once each (shared by its UtcMicroseconds columns),
    but two that compare equal an hour apart are not mixed up."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'instants.sqlite3'}")
    first = datetime(2025, 11, 2, 1, 30, tzinfo=NEW_YORK)
    second = first.replace(fold=1)
    in_utc = datetime(2025, 11, 2, 5, 30, tzinfo=UTC)
    rows: list[dict[str, Any]] = [
        {"id": 0, "at": first, "until": in_utc}, {"id": 1, "at": second, "until": second},
        {"id": 2, "at": in_utc, "until": first}, {"id": 3, "at": None, "until": in_utc}]
    with engine.connect() as conn:
        written = driver_params(conn, rows, ["id", "at", "until"], _instants)
    hour = 3_600_000_000
    at_first = (in_utc - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert written == [(0, at_first, at_first), (1, at_first + hour, at_first + hour),
                       (2, at_first, at_first), (3, None, at_first)]
    engine.dispose()
