"""The browser tests' app: the example app, lab and framework pages, traffic recording, failures."""

from __future__ import annotations

import importlib
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.web.web_framework_pages import PAGES, REACT_SHIM
from timeledger import Client

ACTIVITY_PATH = "/api/timeback/activity/"


def load_example_app() -> Any:
    """examples/lesson_app/app.py, imported as `examples.lesson_app.app` from the repo root."""
    return importlib.import_module("examples.lesson_app.app")


@dataclass(frozen=True, slots=True)
class Seen:
    """One request to the adapter's activity routes, and what it was answered."""

    route: str
    content_type: str
    body: dict[str, Any] | None
    status: int
    headers: dict[str, str] = field(default_factory=dict, compare=False)


class AdapterTraffic:
    """ASGI middleware: records activity requests; answers queued failures for the adapter."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[Seen] = []
        self.failures: deque[int] = deque()
        self.holds: deque[threading.Event] = deque()
        self._changed = threading.Condition()

    def fail_next(self, *statuses: int) -> None:
        """The next heartbeats are answered with these statuses (503 → retried by the client)."""
        with self._changed:
            self.failures.extend(statuses)

    def hold_next_heartbeat(self) -> Callable[[], None]:
        """The next heartbeat waits outside the adapter until the returned call releases it."""
        gate = threading.Event()
        with self._changed:
            self.holds.append(gate)
        return gate.set

    def wait_for(self, condition: Callable[[list[Seen]], bool], what: str,
                 timeout: float = 20.0) -> list[Seen]:
        """Block until the recorded traffic satisfies `condition` (the browser runs on its own)."""
        with self._changed:
            if not self._changed.wait_for(lambda: condition(self.seen), timeout):
                raise AssertionError(f"timed out waiting for {what}; saw {self.seen}")
            return list(self.seen)

    def of(self, learner_run: str) -> list[Seen]:
        with self._changed:
            return [s for s in self.seen if s.body and s.body.get("runId") == learner_run]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(ACTIVITY_PATH):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        route = path.removeprefix(ACTIVITY_PATH)
        with self._changed:
            injected = self.failures.popleft() if route == "heartbeat" and self.failures else None
            gate = self.holds.popleft() if route == "heartbeat" and self.holds else None
        if gate is not None:
            await anyio.to_thread.run_sync(gate.wait, 30.0)
        status: list[int] = []

        async def replay() -> Message:
            return {"type": "http.request", "body": raw, "more_body": False}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        if injected is not None:
            failure = Response(b'{"error": {"code": "INTERNAL_ERROR", "message": "injected"}}',
                               status_code=injected, media_type="application/json")
            await failure(scope, replay, watch)
        else:
            await self.app(scope, replay, watch)
        with self._changed:
            self.seen.append(Seen(route, headers.get("content-type", ""),
                                  body if isinstance(body, dict) else None, status[0], headers))
            self._changed.notify_all()


LAB_PAGE = """<!doctype html><html><head><meta charset=utf-8><title>lab</title></head><body>
<p id=status>lab</p>
<script type=module>
import * as timeledger from "/api/timeback/timeledger.js";
window.timeledger = timeledger;
window.calls = [];
window.callbacks = {
  onError: (error, context) => window.calls.push(
    ["error", error.code, error.status, context.type, error.field ?? null]),
  onPause: () => window.calls.push(["pause", Date.now()]),
  onResume: () => window.calls.push(["resume", Date.now()]),
  onFlush: (activeMs) => window.calls.push(["flush", activeMs]),
};
document.getElementById("status").textContent = "ready";
</script></body></html>"""


def html(page: str) -> Callable[[], HTMLResponse]:
    return lambda: HTMLResponse(page)


def create_lab_app(client: Client, db_path: Path, js_modules: Path | None) -> tuple[Any, Any]:
    """(the ASGI app to serve, its AdapterTraffic recorder); js_modules: js/node_modules."""
    example = load_example_app()
    app = example.create_app(client, db_path=db_path, secret="browser-tests")
    app.add_api_route("/lab", lambda: HTMLResponse(LAB_PAGE))
    for name, page in PAGES.items():
        app.add_api_route(f"/{name}", html(page))
    app.add_api_route("/react-shim.js", lambda: Response(REACT_SHIM,
                                                         media_type="text/javascript"))
    if js_modules is not None:  # installed by scripts/install-test-deps.sh, maybe later
        app.mount("/node_modules", StaticFiles(directory=js_modules, check_dir=False))
    traffic = AdapterTraffic(app)
    return traffic, traffic
