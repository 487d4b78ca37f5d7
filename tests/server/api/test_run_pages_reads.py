"""A run past its first pages: `get_run` lists the first DEFAULT_RUN_WINDOWS windows,
DEFAULT_RUN_DAYS days and DEFAULT_RUN_FLAGS flags, and its `*_next` lead the page functions to
the rest; each page of a run's windows, days and flags is read from an index from its cursor,
never by sorting the whole run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support.ledger_world import Ledger, at, completion, heartbeat, new_run
from tests.support.postgres import Backend
from tests.support.query_plans import plan_steps, recorded_statements
from timeledger.server.app import create_app
from timeledger.server.queries import (
    DEFAULT_RUN_DAYS,
    DEFAULT_RUN_FLAGS,
    DEFAULT_RUN_WINDOWS,
    get_run,
    run_days_page,
    run_flags_page,
    run_windows_page,
)
from timeledger.server.store.database import is_sqlite

START = at("2024-01-01T12:00:00")
DAYS = DEFAULT_RUN_WINDOWS + 1  # one window a day: a window and a day past the first page
COMPLETIONS = DEFAULT_RUN_FLAGS // 2 + 1  # each a low_accuracy flag, all but the first a
# second_completion flag: one flag past the first page
Page = Callable[[sa.Connection, str, int, str | None], dict[str, Any]]
PAGES: dict[str, tuple[Page, str, str]] = {  # list -> (page function, table, its index)
    "windows": (run_windows_page, "run_windows", "ix_run_windows_start"),
    "session_days": (run_days_page, "run_days", "run_days_1"),  # its primary key
    "flags": (run_flags_page, "flags", "ix_flags_run_seq"),
}


class Seeded:
    def __init__(self, ledger: Ledger, run_id: str, windows: list[str], flags: int,
                 short: str) -> None:
        self.ledger, self.run_id, self.windows, self.flags = ledger, run_id, windows, flags
        self.short = short  # a run with one window and no flags


@pytest.fixture(scope="module")
def seeded(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    ledger = Ledger(Path(tmp_path_factory.mktemp("run-reads")), db_url=backend.new_db_url())
    run_id, email = new_run(), "long-run@example.edu"
    # newest day first, so the log's order is not the windows' order
    events = [heartbeat(email, run_id, START + timedelta(days=n), 30)
              for n in reversed(range(DAYS))]
    done = START + timedelta(days=DAYS)
    events += [completion(email, run_id, done + timedelta(minutes=n), 1, total=10, correct=5,
                          attempt=n + 1) for n in range(COMPLETIONS)]
    short = new_run()
    events.append(heartbeat(email, short, START, 30))
    for first in range(0, len(events), 250):
        ledger.append(*events[first:first + 250])
    ledger.platform.project_pending()
    windows = [event["id"] for event in reversed(events[:DAYS])]
    yield Seeded(ledger, run_id, windows, 2 * COMPLETIONS - 1, short)
    ledger.close()


def test_the_run_holds_first_pages_and_their_cursors_lead_to_the_rest(seeded: Seeded) -> None:
    with seeded.ledger.platform.engine.connect() as conn:
        run = get_run(conn, seeded.run_id)
        rest = {name: page(conn, seeded.run_id, 10, run[f"{name}_next"])
                for name, (page, _table, _index) in PAGES.items()}
    assert [w["event_id"] for w in run["windows"]] == seeded.windows[:DEFAULT_RUN_WINDOWS]
    assert [w["event_id"] for w in rest["windows"]["windows"]] == seeded.windows[
        DEFAULT_RUN_WINDOWS:]
    days = [(START + timedelta(days=n)).date().isoformat() for n in range(DAYS)]
    assert [d["date"] for d in run["session_days"]] == days[:DEFAULT_RUN_DAYS]
    assert [d["date"] for d in rest["session_days"]["session_days"]] == days[DEFAULT_RUN_DAYS:]
    assert run["sessions"] == DAYS  # every day, not the first page's
    assert len(run["flags"]) == DEFAULT_RUN_FLAGS
    assert len(rest["flags"]["flags"]) == seeded.flags - DEFAULT_RUN_FLAGS == 1
    keys = [f["key"] for f in run["flags"] + rest["flags"]["flags"]]
    assert len(set(keys)) == seeded.flags
    seqs = [f["seq"] for f in run["flags"] + rest["flags"]["flags"]]
    assert seqs == sorted(seqs, reverse=True)  # newest first across the two pages
    assert all(page["next"] is None for page in rest.values())


def test_the_dashboards_run_page_says_the_rest_is_in_the_api(seeded: Seeded) -> None:
    async def get(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(seeded.ledger.platform))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get(path)

    reply = asyncio.run(get(f"/runs/{seeded.run_id}"))
    assert reply.status_code == 200, reply.text[:500]
    page = reply.text
    assert page.count('<tr data-event="') == DEFAULT_RUN_WINDOWS
    assert (f"The first {DEFAULT_RUN_WINDOWS} windows are shown (and drawn); the rest are in "
            f"the API: <code>GET /api/v1/runs/{seeded.run_id}/windows</code>") in page
    assert (f"The newest {DEFAULT_RUN_FLAGS} flags are shown; the rest are in the API: "
            f"<code>GET /api/v1/runs/{seeded.run_id}/flags</code>") in page
    short = asyncio.run(get(f"/runs/{seeded.short}"))
    assert short.status_code == 200 and short.text.count('<tr data-event="') == 1
    assert "the rest are in the API" not in short.text


def _statements(seeded: Seeded, name: str, after: str | None) -> list[tuple[str, Any]]:
    page, table, _index = PAGES[name]
    engine = seeded.ledger.platform.engine

    def read() -> None:
        with engine.connect() as conn:
            page(conn, seeded.run_id, 2, after)

    return [s for s in recorded_statements(engine, read)
            if f"FROM {table}" in s[0] and "ORDER BY" in s[0]]


@pytest.mark.parametrize("name", sorted(PAGES))
def test_a_page_walks_an_index_from_its_cursor(seeded: Seeded, name: str) -> None:
    page, _table, index = PAGES[name]
    with seeded.ledger.platform.engine.connect() as conn:
        first = page(conn, seeded.run_id, 2, None)
    assert first["next"] is not None
    sqlite = is_sqlite(seeded.ledger.platform.engine)
    for after in (None, first["next"]):
        [(statement, parameters)] = _statements(seeded, name, after)
        steps = plan_steps(seeded.ledger.platform.engine, statement, parameters)
        # A sort of the run's rows would be SQLite's TEMP B-TREE or PostgreSQL's Sort
        assert not [s for s in steps if "TEMP B-TREE" in s or "Sort" in s], steps
        assert not [s for s in steps if s.startswith("Seq Scan")], steps
        if sqlite:
            assert steps[0].startswith("SEARCH"), steps
            assert index in steps[0], steps
            if after is not None:  # the walk starts at the cursor, not at the run's first row
                assert ">" in steps[0] or "<" in steps[0], steps
        else:
            assert any(step.startswith("Index") for step in steps), steps
            assert name == "session_days" or any(index in step for step in steps), steps
