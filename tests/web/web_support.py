"""What the web tests share: the course config, apps served by uvicorn, and platform read-backs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from tests.support.platform import PlatformProcess, free_port
from tests.support.shared import REPO
from timeledger import Client
from timeledger.caliper.times import parse_utc

EXAMPLE_APP = REPO / "examples" / "lesson_app"
JS_PACKAGE = REPO / "js"
"""The npm package timeledger; its node_modules (git-ignored) holds the frameworks the pages use."""
CONFIG: dict[str, Any] = {
    "name": "Example App",
    "sensor": "https://app.example.com",
    "courses": [
        {"subject": "Math", "grade": 3, "ids": {"production": "course-abc"}},
        {"subject": "Reading", "grade": 4},
        {"subject": "Other", "courseCode": "CS-101"},
    ],
}
DEADLINE_S = 20.0


def wait_until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE_S) -> Any:
    """Poll a real condition across processes (delivery, a server coming up) until a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)  # polling another process; the logic under test never sleeps


class ServedApp:
    """An ASGI app on a real uvicorn server on 127.0.0.1, in a thread of the test process."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}",
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServedApp:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), "uvicorn to start")
        if not self.server.started:
            raise RuntimeError("uvicorn did not start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    def __enter__(self) -> ServedApp:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def platform_client(platform: PlatformProcess, outbox: Path, **options: Any) -> Client:
    """An SDK client sending to `platform` through the outbox file `outbox`."""
    client_id, secret = platform.admin_credentials()
    return Client(base_url=platform.base_url, client_id=client_id, client_secret=secret,
                  config=options.pop("config", CONFIG), outbox=str(outbox), **options)


def offline_client(outbox: Path, **options: Any) -> Client:
    """An SDK client whose outbox only fills (no sender): for inspecting what the adapter queues."""
    return Client(base_url="http://127.0.0.1:9", config=options.pop("config", CONFIG),
                  outbox=str(outbox), background=False, **options)


@contextmanager
def closing(client: Client) -> Iterator[Client]:
    try:
        yield client
    finally:
        client.close(timeout=0)


def stored_events(platform: PlatformProcess, learner: str, kind: str | None = None,
                  run_id: str | None = None) -> list[dict[str, Any]]:
    """Events the platform stored for a learner, oldest first (bodies as sent)."""
    params: dict[str, Any] = {"learner": learner, "limit": 1000}
    if kind:
        params["type"] = kind
    if run_id:
        params["runId"] = run_id
    page = platform.get("/caliper/events", **params)
    return [row["event"] for row in reversed(page["events"])]


def windows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """TimeSpentEvents as windows: start, end (datetimes) and active/inactive seconds."""
    out = []
    for event in events:
        items = {item["type"]: item for item in event["generated"]["items"]}
        first = event["generated"]["items"][0]
        out.append({
            "start": parse_utc(first["startDate"]), "end": parse_utc(first["endDate"]),
            "active": items.get("active", {}).get("value", 0.0),
            "inactive": items.get("inactive", {}).get("value", 0.0),
            "run": event["extensions"]["runId"],
        })
    return sorted(out, key=lambda w: w["start"])


def totals(platform: PlatformProcess, learner: str, run_id: str | None = None
           ) -> tuple[float, float]:
    """(active, inactive) seconds the platform holds for a learner (and run)."""
    found = windows(stored_events(platform, learner, "TimeSpentEvent", run_id))
    return (round(sum(w["active"] for w in found), 3), round(sum(w["inactive"] for w in found), 3))


IGNORED_KEYS = {"id"}
"""Ids differ by nature (`object.course.id`, an IRI only a hosted roster gives, is absent)."""
ADDED_KEYS = {"extensions.runId", "generated.items[].startDate", "generated.items[].endDate"}
"""What timeledger adds on purpose (protocol.md: runId in both places, windows on the items)."""


def _shape_problems(ours: Any, theirs: Any, path: str) -> list[str]:
    if isinstance(theirs, Mapping):
        if not isinstance(ours, Mapping):
            return [f"{path}: expected an object, got {ours!r}"]
        problems = []
        for key, value in theirs.items():
            where = f"{path}.{key}" if path else key
            if key in IGNORED_KEYS:
                continue
            if key not in ours:
                problems.append(f"{where}: missing")
                continue
            problems += _shape_problems(ours[key], value, where)
        for key in ours:
            where = f"{path}.{key}" if path else key
            if key not in theirs and where not in ADDED_KEYS and key not in IGNORED_KEYS:
                problems.append(f"{where}: not in the captured event")
        return problems
    if isinstance(theirs, list):
        if not isinstance(ours, list) or len(ours) != len(theirs):
            return [f"{path}: expected {len(theirs)} items, got {ours!r}"]
        key = (lambda item: item.get("type", "")) if all(
            isinstance(item, Mapping) for item in theirs) else None
        pairs = zip(sorted(ours, key=key), sorted(theirs, key=key), strict=True) if key else zip(
            ours, theirs, strict=True)
        return [problem for a, b in pairs for problem in _shape_problems(a, b, f"{path}[]")]
    if isinstance(theirs, bool) or isinstance(ours, bool):
        return [] if ours is theirs else [f"{path}: {ours!r} != {theirs!r}"]
    if isinstance(theirs, int | float):
        ok = isinstance(ours, int | float) and ours == theirs
        return [] if ok else [f"{path}: {ours!r} != {theirs!r}"]
    return [] if ours == theirs else [f"{path}: {ours!r} != {theirs!r}"]


def shape_problems(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    """How our event differs from a captured one in keys, types and values (ids/times aside)."""
    return _shape_problems(ours, theirs, "")
