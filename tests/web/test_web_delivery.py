"""Adapter → SDK outbox → platform: outages lose nothing, resends count once across processes."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from tests.support.platform import PlatformProcess, free_port
from tests.web.web_support import (
    ServedApp,
    closing,
    platform_client,
    stored_events,
    totals,
    wait_until,
)
from timeledger.caliper.times import format_utc
from timeledger.web import create_router

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def identity(request: Request) -> dict[str, Any] | None:
    email = request.headers.get("x-learner")
    return {"email": email} if email else None


def window(run_id: str, index: int, active_ms: int, paused_ms: int) -> dict[str, Any]:
    """The index-th 15 s window of a run."""
    started = START + timedelta(seconds=15 * index)
    return {"id": "fractions-1", "name": "Fractions 1", "course": {"subject": "Math", "grade": 3},
            "runId": run_id, "startedAt": format_utc(started),
            "endedAt": format_utc(started + timedelta(seconds=15)),
            "elapsedMs": active_ms, "pausedMs": paused_ms}


def serve_adapter(client: Any) -> ServedApp:
    router = create_router(client, identity=identity)
    app = Starlette()
    app.mount(router.base_path, router)
    return ServedApp(app)


HTTP = httpx.Client(timeout=30)


def post(url: str, body: dict[str, Any], learner: str) -> int:
    reply = HTTP.post(f"{url}/api/timeback/activity/heartbeat", json=body,
                      headers={"x-learner": learner})
    return reply.status_code


def test_a_platform_outage_never_fails_the_browser_and_loses_nothing(
        make_platform: Callable[..., PlatformProcess], tmp_path: Path) -> None:
    platform = make_platform()
    learner = f"outage-{uuid.uuid4().hex[:8]}@example.edu"
    run_id = str(uuid.uuid4())
    sent = [window(run_id, i, 15000 - 1000 * i, 1000 * i) for i in range(6)]
    client = platform_client(platform, tmp_path / "outbox.sqlite3", max_backoff=0.2)
    with closing(client), serve_adapter(client) as adapter:
        platform.stop()

        statuses = [post(adapter.url, body, learner) for body in sent]

        assert statuses == [204] * 6
        assert len([row for row in client.pending() if row.run_id == run_id]) == 6
        platform.start()
        wait_until(lambda: len(stored_events(platform, learner)) == 6, "the six windows to land")
        wait_until(lambda: not client.pending(), "the outbox to empty")

    assert totals(platform, learner) == (sum(15 - i for i in range(6)), sum(range(6)))
    assert sorted(e["generated"]["items"][0]["startDate"] for e in stored_events(
        platform, learner)) == [body["startedAt"] for body in sent]


@pytest.fixture
def second_adapter(platform: PlatformProcess, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Another adapter process on the same outbox file; yields (its URL, the outbox)."""
    outbox = tmp_path / "shared-outbox.sqlite3"
    client_id, secret = platform.admin_credentials()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("adapter_process.py")), "--port", str(port),
         "--outbox", str(outbox), "--base-url", platform.base_url, "--client-id", client_id,
         f"--client-secret={secret}"])  # one word: a secret may begin with "-"
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        try:
            return httpx.get(url + "/api/timeback/timeledger.js", timeout=1).status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None

    try:
        wait_until(answering, "the second adapter process to start")
        assert process.poll() is None, "the second adapter process exited"
        yield url, outbox
    finally:
        process.terminate()
        process.wait(15)


def test_resent_windows_count_once_across_adapter_processes(
        platform: PlatformProcess, second_adapter: tuple[str, Path]) -> None:
    other_url, outbox = second_adapter
    learner = f"shared-{uuid.uuid4().hex[:8]}@example.edu"
    run_id = str(uuid.uuid4())
    sent = [window(run_id, i, 14000, 1000) for i in range(20)]
    with closing(platform_client(platform, outbox, max_backoff=0.2)) as client, \
            serve_adapter(client) as here, ThreadPoolExecutor(8) as pool:
        # Each window goes to both processes at once, as a retrying browser might cause.
        futures = [(pool.submit(post, here.url, body, learner),
                    pool.submit(post, other_url, body, learner)) for body in sent]
        statuses = [sorted((a.result(), b.result())) for a, b in futures]

        assert statuses == [[200, 204]] * 20
        wait_until(lambda: len(stored_events(platform, learner)) == 20, "twenty windows to land")
        client.flush(10)

    assert len(stored_events(platform, learner)) == 20
    assert totals(platform, learner) == (20 * 14.0, 20 * 1.0)
