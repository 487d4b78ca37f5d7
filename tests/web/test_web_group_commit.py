"""Concurrent adapter requests share one outbox transaction, and none is answered before it is
committed: real HTTP to the Starlette router, a real outbox file held by another connection."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from tests.support.app_server import serving
from tests.web.web_support import closing, offline_client
from timeledger.caliper.times import format_utc
from timeledger.web import create_router

REQUESTS = 8
START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
RUN = "6a1f0a4e-2b7c-4e8e-9a57-3d0c1b2a4f10"


async def async_identity(request: Request) -> dict[str, Any] | None:
    return {"email": "ada@example.edu"}


def sync_identity(request: Request) -> dict[str, Any] | None:
    return {"email": "ada@example.edu"}


def window(index: int) -> dict[str, Any]:
    started = START + timedelta(seconds=15 * index)
    return {"id": "fractions-1", "name": "Fractions 1", "course": {"subject": "Math", "grade": 3},
            "runId": RUN, "startedAt": format_utc(started),
            "endedAt": format_utc(started + timedelta(seconds=15)),
            "elapsedMs": 12000, "pausedMs": 3000}


def stored(path: Path) -> int:
    with sqlite3.connect(path) as other:
        (count,) = other.execute("SELECT count(*) FROM events").fetchone()
    return int(count)


@pytest.mark.parametrize("identity", [async_identity, sync_identity], ids=["async", "sync"])
def test_concurrent_heartbeats_share_a_commit_and_are_answered_after_it(
        tmp_path: Path, identity: Any) -> None:
    path = tmp_path / "outbox.sqlite3"
    with closing(offline_client(path)) as client:
        router = create_router(client, identity=identity)
        app = Starlette()
        app.mount(router.base_path, router)
        began = threading.Event()
        commits: list[str] = []

        def traced(statement: str) -> None:
            if statement == "BEGIN IMMEDIATE":
                began.set()
            elif statement == "COMMIT":
                commits.append(statement)

        client._outbox._db.set_trace_callback(traced)
        answered: list[int] = []
        with serving(app) as url:

            def post(index: int) -> None:
                reply = httpx.post(f"{url}/api/timeback/activity/heartbeat", json=window(index),
                                   timeout=60)
                answered.append(reply.status_code)

            holder = sqlite3.connect(path, isolation_level=None)  # another process's lock
            holder.execute("BEGIN IMMEDIATE")
            posts = [threading.Thread(target=post, args=(n,)) for n in range(REQUESTS)]
            posts[0].start()
            assert began.wait(30)  # the first request's write is in its transaction, blocked
            for thread in posts[1:]:
                thread.start()
            assert client._outbox._writes.wait_for_waiting(REQUESTS - 1, 30)
            assert answered == [] and stored(path) == 0
            holder.execute("COMMIT")
            holder.close()
            for thread in posts:
                thread.join(60)
            assert answered == [204] * REQUESTS
            assert stored(path) == REQUESTS
            assert len(commits) == 2  # the first request's, then one for the seven that waited
