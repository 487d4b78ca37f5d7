"""What the pages read: a learner's year renders from projections looked up by key, never by
scanning the event log or anyone else's rows (the bench, bench/dashboard.py, times it at 1M)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
import sqlalchemy as sa

from tests.support.postgres import Backend
from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    completed_event,
    envelope,
    time_spent_event,
)
from timeledger.caliper.envelope import parse_envelope
from timeledger.caliper.metrics import Metrics
from timeledger.server.app import create_app
from timeledger.server.platform import Platform, open_platform
from timeledger.server.settings import Settings
from timeledger.server.store.database import is_sqlite, sqlite_url

SENSOR = "https://app.example"
TIMED = "year@school.example"
OTHERS = ("other1@school.example", "other2@school.example")
# Shared, small tables: the course catalog and its line items (projected, or written through the
# OneRoster gradebook API: one per assessment). Everything else is per learner and must be searched.
SHARED_TABLES = {"courses", "course_registry", "gradebook_line_items",
                 "gradebook_written_line_items"}
EVENT_LOG = re.compile(r"\bevents\b", re.IGNORECASE)
# The query API says how far projection has got: the log's head, read from the end of its key
# (SQLite), or each partition's newest row from the end of its index (PostgreSQL).
LOG_HEAD = re.compile(r"SELECT max\(events\.seq\) AS \w+\s+FROM events$"
                      r"|.*FROM events e WHERE e\.partition = p\.partition "
                      r"ORDER BY e\.xact DESC, e\.seq DESC LIMIT 1\) h$", re.DOTALL)


def _a_year(email: str, now: datetime, days: int) -> list[dict[str, Any]]:
    """One three-minute lesson a day for `days` days, ending yesterday."""
    actor = Learner(email=email).actor("https://sis.example")
    activity = ActivityRef(url=f"{SENSOR}/activities/Math/g3/fractions", name="Fractions",
                           subject="Math", app_name="Test app", course_id="Math G3",
                           course_name="Math G3")
    items: list[dict[str, Any]] = []
    for day in range(days, 0, -1):
        run_id = str(uuid.UUID(int=uuid.uuid5(uuid.NAMESPACE_URL, f"{email}/{day}").int, version=4))
        start = now - timedelta(days=day)
        for minute in range(3):
            items.append(time_spent_event(
                actor=actor, activity=activity, run_id=run_id,
                started_at=start + timedelta(minutes=minute),
                ended_at=start + timedelta(minutes=minute + 1), active_ms=60_000, inactive_ms=0))
        items.append(completed_event(
            actor=actor, activity=activity, run_id=run_id, ended_at=start + timedelta(minutes=3),
            metrics=Metrics(xp_earned=3, total_questions=10, correct_questions=9)))
    return items


@pytest.fixture(scope="module")
def year(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A store holding a year for the timed learner and for two others, ingested for real."""
    folder: Path = tmp_path_factory.mktemp("year")
    db_url = backend.new_db_url() or sqlite_url(folder)
    platform = open_platform(Settings(db_url=db_url, data_dir=folder))
    now = datetime.now(UTC).replace(microsecond=0)
    items = [item for email in (TIMED, *OTHERS) for item in _a_year(email, now, 365)]
    for start in range(0, len(items), 1000):
        raw = orjson.dumps(envelope(SENSOR, items[start:start + 1000], now))
        platform.ingestor.ingest(parse_envelope(raw))
    platform.project_pending()
    yield platform
    platform.close()


def _token(platform: Platform) -> str:
    """A query API token (issued before the statements are recorded)."""
    now = datetime.now(UTC)
    issued = platform.credentials.create_client("reads", ("reports:read",), now)
    token = platform.credentials.issue_token(issued.client_id, issued.client_secret, (), now)
    assert token is not None
    return token.token


def _statements(platform: Platform, path: str) -> list[tuple[str, Any]]:
    """Every SQL statement (with its parameters) the platform runs to answer GET `path`."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
               _many: bool) -> None:
        seen.append((statement, parameters))

    headers = {"Authorization": f"Bearer {_token(platform)}"} if path.startswith("/api/") else {}

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(platform))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1",
                                     headers=headers) as client:
            return await client.get(path)

    sa.event.listen(platform.engine, "before_cursor_execute", record)
    try:
        reply = asyncio.run(get())
    finally:
        sa.event.remove(platform.engine, "before_cursor_execute", record)
    assert reply.status_code == 200, reply.text[:500]
    return seen


def _scans(platform: Platform, statements: list[tuple[str, Any]]) -> set[str]:
    """The tables the database would read whole for these statements."""
    if not is_sqlite(platform.engine):
        return _pg_scans(platform, statements)
    # SQLite: SCAN, not SEARCH by key.
    scanned: set[str] = set()
    with platform.engine.connect() as conn:
        for statement, parameters in statements:
            for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters):
                step = row[-1]
                if step.startswith("SCAN "):
                    scanned.add(step.split()[1])
    return scanned


def _pg_scans(platform: Platform, statements: list[tuple[str, Any]]) -> set[str]:
    """PostgreSQL: a Seq Scan kept while seq scans are off (no index can serve the statement; on
    tables this small the planner would seq-scan anyway), or an index read end to end (an Index
    Scan with no Index Cond)."""
    scanned: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        kind = node["Node Type"]
        if kind == "Seq Scan" or (kind in ("Index Scan", "Index Only Scan")
                                  and "Index Cond" not in node):
            scanned.add(node["Relation Name"])
        for child in node.get("Plans", ()):
            walk(child)

    with platform.engine.connect() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for statement, parameters in statements:
            [plan] = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement,
                                          parameters).scalar_one()
            walk(plan["Plan"])
    return scanned


def _runs_of(platform: Platform, email: str) -> list[str]:
    with platform.engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT run_id FROM runs WHERE learner_email = :email ORDER BY run_id LIMIT 1"),
            {"email": email}).scalars())


@pytest.mark.parametrize("page", ["learner", "learner-course", "run", "activity-runs",
                                  "learner-days-csv"])
def test_a_learners_pages_read_projections_by_key(year: Platform, page: str) -> None:
    path = {"learner": f"/learners/{quote(TIMED)}",
            "learner-course": f"/learners/{quote(TIMED)}?course=Math%20G3&runs=400",
            "run": f"/runs/{_runs_of(year, TIMED)[0]}",
            "activity-runs": f"/activity-runs?learner={quote(TIMED)}&course=Math%20G3&activity="
                             + quote(f"{SENSOR}/activities/Math/g3/fractions", safe=""),
            "learner-days-csv": f"/export/learner-days.csv?learner={quote(TIMED)}"}[page]
    statements = _statements(year, path)
    assert statements
    assert [s for s, _ in statements if EVENT_LOG.search(s)] == [], "the event log was read"
    assert _scans(year, statements) <= SHARED_TABLES


# Tables that grow with history (a row per event, window, run, day or flag): a list page may
# look rows up in them by key or by a date range, never read one whole.
HISTORY_TABLES = {"events", "runs", "run_windows", "run_days", "learner_days", "completions",
                  "xp_ledger", "gradebook_results", "flags", "event_outcomes", "flag_reviews"}


@pytest.mark.parametrize("path", ["/", "/?range=last_week", "/?course=Math%20G3&range=custom"
                                  "&from=2025-01-01&to=2025-12-31", "/overview", "/learners",
                                  "/courses", "/courses/Math%20G3", "/flags", "/integration",
                                  "/api/v1/learners", "/api/v1/courses",
                                  "/api/v1/courses/Math%20G3", "/api/v1/overview",
                                  "/api/v1/class", "/api/v1/flags?limit=100"])
def test_list_pages_never_read_a_history_table_whole(year: Platform, path: str) -> None:
    """The class view, overview, learners, courses, a course and both flag pages (and the query
    API's lists) read running totals (a row per learner, or per learner and activity) and look
    history up by key or date range, so their cost does not grow with history
    (bench/dashboard.py times them at 10k and 1M events)."""
    statements = _statements(year, path)
    assert [s for s, _ in statements if EVENT_LOG.search(s) and not LOG_HEAD.match(s)] == [], \
        "the event log was read"
    assert _scans(year, statements) & HISTORY_TABLES == set()
