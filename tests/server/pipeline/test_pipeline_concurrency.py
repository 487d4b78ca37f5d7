"""Several writers at once on PostgreSQL: counters lose nothing and a window still counts once."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.ledger_world import Ledger, at, heartbeat
from tests.support.postgres import Backend
from timeledger.server import queries
from timeledger.server.pipeline import PipelineSettings
from timeledger.server.pipeline.rebuild import rebuild
from timeledger.server.store.projection_tables import PROJECTION_TABLES

WRITERS = 4
RUNS = 3
WINDOWS_PER_RUN = 40


@pytest.mark.backends("pg")
def test_concurrent_ingest_counts_every_window_once(tmp_path: Path, backend: Backend) -> None:
    url = backend.new_db_url()
    ledgers = [Ledger(tmp_path / str(n), timezone="America/New_York", db_url=url)
               for n in range(WRITERS)]
    email = f"busy-{uuid.uuid4().hex[:8]}@example.edu"
    runs = [str(uuid.uuid4()) for _ in range(RUNS)]
    t0 = at("2025-01-14T04:50:00")  # the windows cross local midnight in New York
    # every writer sends every window of every run (under its own event ids), in its own order
    # and cut into its own envelopes: each window must count exactly once
    plans = []
    for writer in range(WRITERS):
        events = [heartbeat(email, run, t0 + timedelta(seconds=20 * i), 15, 5)
                  for run in runs for i in range(WINDOWS_PER_RUN)]
        events = events[writer * 7:] + events[:writer * 7]
        size = 5 + writer * 3
        plans.append([events[i:i + size] for i in range(0, len(events), size)])
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def write(ledger: Ledger, envelopes: list[list[dict[str, object]]]) -> None:
        try:
            start.wait()
            for events in envelopes:
                ledger.send(*events)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(ledger, plan))
               for ledger, plan in zip(ledgers, plans, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for run in runs:
        got = ledgers[0].read(queries.get_run, run)
        assert got["heartbeats"] == WINDOWS_PER_RUN
        assert got["active_seconds"] == 15 * WINDOWS_PER_RUN
        assert got["inactive_seconds"] == 5 * WINDOWS_PER_RUN
    totals = ledgers[0].read(queries.learner_summary, email)["totals"]
    assert totals["active_minutes"] == RUNS * WINDOWS_PER_RUN * 15 / 60  # 30
    assert totals["inactive_minutes"] == RUNS * WINDOWS_PER_RUN * 5 / 60  # 10
    built = {t.name: ledgers[0].rows(t) for t in PROJECTION_TABLES}
    rebuild(ledgers[0].platform.engine, PipelineSettings("America/New_York"))
    rebuilt = {t.name: ledgers[0].rows(t) for t in PROJECTION_TABLES}
    # which of the copies of a window counted depends on who committed first, so compare
    # everything but the windows' event ids
    for rows in (built, rebuilt):
        for row in rows["run_windows"]:
            row.pop("event_id"), row.pop("seq")
    assert rebuilt == built
    for ledger in ledgers:
        ledger.close()
