"""The overview counts each flag on the platform's local day of the event that raised it, across a
daylight-saving change (the database counts them, by each local day's bounds in UTC)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.support.ledger_world import Ledger, at, completion, new_run
from tests.support.postgres import Backend
from timeledger.server import queries
from timeledger.server.store.projection_tables import flags

ZONE = "America/New_York"  # clocks went forward at 2025-03-09 02:00 local


def test_flags_fall_on_their_local_day_across_a_dst_change(backend: Backend,
                                                          tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, timezone=ZONE, db_url=backend.new_db_url())
    # low accuracy with XP raises a learning flag; these moments sit near local midnights, and
    # the 9th is 23 hours long (05:00 to 04:00 UTC)
    moments = [at("2025-03-08T04:59:00"), at("2025-03-08T05:01:00"),  # 23:59 on the 7th, 00:01
               at("2025-03-09T04:59:00"), at("2025-03-09T05:01:00"),  # 23:59 on the 8th, 00:01
               at("2025-03-10T03:59:00"), at("2025-03-10T04:01:00")]  # 23:59 on the 9th, 00:01
    try:
        for index, moment in enumerate(moments):
            ledger.send(completion(f"p{index}@example.edu", new_run(), moment, 5, total=10,
                                   correct=5))
        # each completion raises two flags (low accuracy, and XP above its focused minutes)
        stored = ledger.rows(flags)
        assert sorted(row["event_time"] for row in stored) == sorted(moments * 2)
        expected: dict[str, int] = {}
        for row in stored:
            day = row["event_time"].astimezone(ZoneInfo(ZONE)).date().isoformat()
            expected[day] = expected.get(day, 0) + 1
        assert expected == {"2025-03-07": 2, "2025-03-08": 4, "2025-03-09": 4, "2025-03-10": 2}
        data = ledger.read(lambda conn: queries.overview(conn, date(2025, 3, 11), ZONE, 6))
        assert data["dates"][0] == (date(2025, 3, 11) - timedelta(days=5)).isoformat()
        assert dict(zip(data["dates"], data["series"]["flags"], strict=True)) == {
            day: expected.get(day, 0) for day in data["dates"]}
        assert data["window"]["flags"] == len(stored)
    finally:
        ledger.close()
