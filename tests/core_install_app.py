"""An app with only `pip install timeledger`, run by tests/test_install_extras.py in a fresh venv.

It queues one event through `Client.enqueue`, sends one heartbeat window through the Starlette
adapter, delivers both to the platform named by `TIMELEDGER_*`, and prints as JSON where
`timeledger` was imported from, what each step answered and which distributions are installed.
Usage: `python core_install_app.py LEARNER_EMAIL SDK_RUN_ID ADAPTER_RUN_ID`.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from importlib import metadata

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount
from starlette.testclient import TestClient

import timeledger
from timeledger import Client
from timeledger.caliper.builders import stable_event_id, time_spent_event
from timeledger.web import create_router

CONFIG = {"name": "Core Install", "sensor": "https://core-install.example.com",
          "courses": [{"subject": "Math", "grade": 3}]}
STARTED = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)


def main(learner: str, sdk_run: str, adapter_run: str) -> None:
    client = Client(config=CONFIG)
    ref = client.activity_ref("fractions-1", "Fractions 1", {"subject": "Math", "grade": 3})
    event = time_spent_event(
        actor=client.actor({"email": learner}), activity=ref, run_id=sdk_run,
        started_at=STARTED, ended_at=STARTED + timedelta(seconds=15), active_ms=12000,
        inactive_ms=3000, event_id=stable_event_id(sdk_run, "window-1"))
    enqueued = client.enqueue(event)

    def identity(_request: Request) -> dict[str, str]:
        return {"email": learner}

    timeback = create_router(client, identity=identity)
    app = Starlette(routes=[Mount(timeback.base_path, app=timeback)])
    with TestClient(app, base_url="http://127.0.0.1") as browser:
        heartbeat = browser.post(f"{timeback.base_path}/activity/heartbeat", json={
            "id": "fractions-1", "name": "Fractions 1", "course": {"subject": "Math", "grade": 3},
            "runId": adapter_run, "startedAt": "2025-01-15T10:01:00.000Z",
            "endedAt": "2025-01-15T10:01:15.000Z", "elapsedMs": 15000, "pausedMs": 0})
        script = browser.get(timeback.script_url)
    delivered = client.flush(timeout=30)
    client.close()
    print(json.dumps({
        "timeledger_file": timeledger.__file__,
        "enqueued": enqueued,
        "heartbeat_status": heartbeat.status_code,
        "script_status": script.status_code,
        "script_type": script.headers.get("content-type", ""),
        "delivered": delivered,
        "distributions": sorted(dist.metadata["Name"].lower().replace("_", "-")
                                for dist in metadata.distributions()),
    }))


if __name__ == "__main__":
    main(*sys.argv[1:4])
