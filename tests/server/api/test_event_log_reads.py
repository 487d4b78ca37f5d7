"""A learner's or a type's page of the event log (the dashboard's explorer, GET /caliper/events)
walks an index from its cursor, so its cost does not grow with the log; and the pages hold
exactly that learner's or type's events, newest first, each once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
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
from timeledger.server.queries.event_log import log_page
from timeledger.server.store.database import is_sqlite
from timeledger.server.store.schema import events

START = at("2026-03-02T09:00:00Z")
LEARNERS = ("ada@example.edu", "bo@example.edu")
LOG_INDEXES = ("ix_events_learner_seq", "ix_events_type_seq")


@pytest.fixture
def ledger(backend: Backend, tmp_path: Path) -> Iterator[Ledger]:
    made = Ledger(tmp_path, db_url=backend.new_db_url())
    for n in range(5):  # interleaved: each learner's events are spread over the whole log
        for email in LEARNERS:
            run = new_run()
            made.append(heartbeat(email, run, START + timedelta(minutes=n), 15),
                        completion(email, run, START + timedelta(minutes=n, seconds=20), 1))
    yield made
    made.platform.close()


def _recorded(ledger: Ledger, read: Any) -> list[tuple[str, Any]]:
    return [s for s in recorded_statements(ledger.platform.engine, read)
            if "FROM events" in s[0] and "ORDER BY events.seq DESC" in s[0]]


def _assert_walks_an_index(ledger: Ledger, statement: str, parameters: Any) -> None:
    steps = plan_steps(ledger.platform.engine, statement, parameters)
    assert any(index in step for step in steps for index in LOG_INDEXES), steps
    assert not [s for s in steps if "TEMP B-TREE" in s or s in ("Sort", "Seq Scan")], steps
    if is_sqlite(ledger.platform.engine):
        assert all(not s.startswith("SCAN events") for s in steps), steps


@pytest.mark.parametrize(("learner", "event_type"), [("ADA@example.edu", None),
                                                     (None, "ActivityEvent")])
def test_a_page_of_the_explorer_walks_an_index(ledger: Ledger, learner: str | None,
                                               event_type: str | None) -> None:
    with ledger.platform.engine.connect() as conn:
        first = log_page(conn, limit=2, learner=learner, event_type=event_type)
    assert first.next is not None
    for before in (None, first.next):
        def read(before: int | None = before) -> None:
            with ledger.platform.engine.connect() as conn:
                log_page(conn, limit=2, before=before, learner=learner,
                         event_type=event_type)

        [(statement, parameters)] = _recorded(ledger, read)
        _assert_walks_an_index(ledger, statement, parameters)


@pytest.mark.parametrize("query", ["learner=bo%40example.edu", "type=TimeSpentEvent"])
def test_a_page_of_the_query_apis_event_list_walks_an_index(ledger: Ledger, query: str) -> None:
    platform = ledger.platform
    issued = platform.credentials.create_client("reads", ("reports:read",), platform.now())
    token = platform.credentials.issue_token(issued.client_id, issued.client_secret, (),
                                             platform.now())
    assert token is not None

    def read() -> None:
        async def get() -> None:
            transport = httpx.ASGITransport(app=create_app(platform))
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1",
                                         headers={"Authorization": f"Bearer {token.token}"},
                                         ) as client:
                reply = await client.get(f"/caliper/events?{query}&limit=2")
                assert reply.status_code == 200, reply.text
        asyncio.run(get())

    [(statement, parameters)] = _recorded(ledger, read)
    _assert_walks_an_index(ledger, statement, parameters)


@pytest.mark.parametrize("selection", ["email", "actor id", "type"])
def test_the_pages_hold_exactly_the_selection_newest_first(ledger: Ledger,
                                                           selection: str) -> None:
    with ledger.platform.engine.connect() as conn:
        rows = conn.execute(sa.select(events.c.seq, events.c.learner_email, events.c.actor_id,
                                      events.c.type)).all()
        bo_actor = next(r.actor_id for r in rows if r.learner_email == LEARNERS[1])
        learner = {"email": "Bo@Example.edu ", "actor id": bo_actor}.get(selection)
        event_type = "ActivityEvent" if selection == "type" else None
        wanted = sorted((r.seq for r in rows if (r.learner_email == LEARNERS[1]
                                                 if selection != "type"
                                                 else r.type == "ActivityEvent")),
                        reverse=True)
        paged: list[int] = []
        before = None
        while True:
            page = log_page(conn, limit=3, before=before, learner=learner,
                            event_type=event_type)
            paged.extend(e.json["seq"] for e in page.events)
            before = page.next
            if before is None:
                break
    assert len(wanted) == 10
    assert paged == wanted
