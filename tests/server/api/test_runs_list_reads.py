"""`GET /api/v1/runs` without a learner reads its page from an index in list order (newest first),
over all runs or one course's, on the first page and past a cursor: it never sorts every run, so
its cost does not grow with history. The pages also come back in the order the cursor promises."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.ledger_world import Ledger, activity, at, heartbeat, new_run
from tests.support.postgres import Backend
from tests.support.query_plans import plan_steps, recorded_statements
from timeledger.server.queries.runs import runs_page
from timeledger.server.store.database import is_sqlite
from timeledger.server.store.projection_tables import runs

LIST_INDEXES = {"ix_runs_last_seen", "ix_runs_course_last_seen"}
START = at("2026-03-02T09:00:00Z")


@pytest.fixture
def ledger(backend: Backend, tmp_path: Path) -> Any:
    made = Ledger(tmp_path, db_url=backend.new_db_url())
    for n in range(7):  # seven runs over two courses, each seen at its own time, two at one time
        course = "math-g3" if n % 2 else "ela-g3"
        made.append(heartbeat(f"l{n}@example.edu", new_run(),
                              START + timedelta(minutes=min(n, 5)), 15,
                              act=activity(course_id=course)))
    made.platform.project_pending()
    yield made
    made.platform.close()


def _statements(ledger: Ledger, course: str | None, after: str | None) -> list[tuple[str, Any]]:
    def read() -> None:
        with ledger.platform.engine.connect() as conn:
            runs_page(conn, None, course, 2, after)

    return [s for s in recorded_statements(ledger.platform.engine, read)
            if "FROM runs" in s[0] and "ORDER BY" in s[0]]


@pytest.mark.parametrize("course", [None, "math-g3"])
def test_a_runs_page_walks_an_index_in_list_order(ledger: Ledger, course: str | None) -> None:
    with ledger.platform.engine.connect() as conn:
        first = runs_page(conn, None, course, 2)
    assert first["next"] is not None
    for after in (None, first["next"]):
        [(statement, parameters)] = _statements(ledger, course, after)
        steps = plan_steps(ledger.platform.engine, statement, parameters)
        assert any(index in step for step in steps for index in LIST_INDEXES), steps
        # A whole sort of the runs would be SQLite's "TEMP B-TREE FOR ORDER BY" or PostgreSQL's
        # Sort; sorting only ties of last_seen by run id is allowed (RIGHT PART, Incremental).
        assert not [s for s in steps if "TEMP B-TREE FOR ORDER BY" in s or s == "Sort"], steps
        assert not [s for s in steps if s.startswith("Seq Scan")], steps
        if after is not None and is_sqlite(ledger.platform.engine):
            assert steps[0].startswith("SEARCH"), steps  # it starts at the cursor


@pytest.mark.parametrize("course", [None, "math-g3"])
def test_the_pages_give_every_run_once_newest_first(ledger: Ledger, course: str | None) -> None:
    with ledger.platform.engine.connect() as conn:
        everything = conn.execute(sa.select(runs.c.run_id, runs.c.last_seen,
                                            runs.c.course_id)).all()
        newest_first = sorted(everything, key=lambda r: r.run_id)
        newest_first.sort(key=lambda r: r.last_seen, reverse=True)  # stable: ties by run id
        expected = [r.run_id for r in newest_first if course is None or r.course_id == course]
        paged: list[str] = []
        after = None
        while True:
            page = runs_page(conn, None, course, 2, after)
            paged.extend(run["run_id"] for run in page["runs"])
            after = page["next"]
            if after is None:
                break
    assert paged == expected
    assert len(expected) == (3 if course else 7)

