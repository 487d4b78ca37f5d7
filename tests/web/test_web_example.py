"""The example app's one documented command starts a platform and the app that sends to it."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from web_support import EXAMPLE_APP, stored_events, wait_until

from support.platform import PlatformProcess, free_port


def test_run_py_starts_the_platform_and_the_app_together(tmp_path: Path) -> None:
    app_port, platform_port = free_port(), free_port()
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE_APP / "run.py"), "--port", str(app_port),
         "--platform-port", str(platform_port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    app = f"http://127.0.0.1:{app_port}"

    def answering(url: str) -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            assert process.poll() is None, process.communicate()[0]
            return False

    try:
        wait_until(lambda: answering(app + "/"), "the example app", timeout=60)
        email = f"example-{uuid.uuid4().hex[:6]}@example.edu"
        with httpx.Client(base_url=app, timeout=10) as browser:
            assert "Sign in" in browser.get("/").text
            browser.post("/signin", data={"email": email})
            lesson = browser.get("/lesson").text
            script = browser.get("/api/timeback/timeledger.js")
            run_id = str(uuid.uuid4())
            beat = browser.post("/api/timeback/activity/heartbeat", json={
                "id": "fractions-lesson", "name": "Fractions lesson",
                "course": {"subject": "Math", "grade": 3}, "runId": run_id,
                "startedAt": "2025-01-15T10:00:00.000Z", "endedAt": "2025-01-15T10:00:15.000Z",
                "elapsedMs": 15000, "pausedMs": 0})

        assert 'import { createClient } from "/api/timeback/timeledger.js"' in lesson
        assert script.headers["content-type"] == "text/javascript; charset=utf-8"
        assert beat.status_code == 204
        platform = PlatformProcess(data_dir / "platform", port=platform_port)
        [event] = wait_until(lambda: stored_events(platform, email), "the heartbeat to land")
        assert event["object"]["id"] == (
            "http://lesson-app.localhost/activities/Math/g3/fractions-lesson")
        assert event["extensions"] == {"courseId": "math-g3", "runId": run_id}
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0]

    assert process.returncode == 0, output
    assert f"Lesson app: http://127.0.0.1:{app_port}/" in output
    assert not answering_quietly(f"http://127.0.0.1:{platform_port}/healthz")


def answering_quietly(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
