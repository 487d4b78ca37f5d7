"""The example app's one documented command starts a platform and the app that sends to it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import httpx

from tests.support.platform import PlatformProcess, free_port
from tests.web.web_support import EXAMPLE_APP, stored_events, wait_until


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


def test_run_py_refuses_a_platform_port_another_platform_holds(tmp_path: Path) -> None:
    """It must never start the app against someone else's platform."""
    other = PlatformProcess(tmp_path / "other").start()
    try:
        done = subprocess.run(
            [sys.executable, str(EXAMPLE_APP / "run.py"), "--port", str(free_port()),
             "--platform-port", str(other.port), "--data-dir", str(tmp_path / "data")],
            capture_output=True, text=True, timeout=60)
    finally:
        other.stop()
    assert done.returncode != 0
    assert f"port {other.port} (--platform-port) is taken" in done.stderr
    assert "Lesson app:" not in done.stdout


def test_run_py_picks_free_ports_and_shows_why_delivery_fails(tmp_path: Path) -> None:
    """No port options; credentials the platform does not know (a client.json kept from an
    earlier data dir): the console says why the events wait."""
    data_dir = tmp_path / "data"
    (data_dir / "platform").mkdir(parents=True)
    (data_dir / "platform" / "client.json").write_text(
        '{"client_id": "tl_forgotten", "client_secret": "from-an-old-database"}')
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE_APP / "run.py"), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    output = process.stdout
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(output.readline, "")),
                              daemon=True)
    reader.start()

    def printed(pattern: str) -> re.Match[str] | None:
        return next((m for line in list(lines) if (m := re.search(pattern, line))), None)

    try:
        app = wait_until(lambda: printed(r"Lesson app: (http://127\.0\.0\.1:\d+)/"),
                         "the app's address", timeout=60).group(1)
        dashboard = printed(r"Platform dashboard: (http://127\.0\.0\.1:\d+)/")
        assert dashboard is not None
        wait_until(lambda: answering_quietly(app + "/"), "the example app", timeout=60)
        assert answering_quietly(dashboard.group(1) + "/healthz")
        with httpx.Client(base_url=app, timeout=10) as browser:
            browser.post("/signin", data={"email": "stale@example.edu"})
            beat = browser.post("/api/timeback/activity/heartbeat", json={
                "id": "fractions-lesson", "name": "Fractions lesson",
                "course": {"subject": "Math", "grade": 3}, "runId": str(uuid.uuid4()),
                "startedAt": "2025-01-15T10:00:00.000Z", "endedAt": "2025-01-15T10:00:15.000Z",
                "elapsedMs": 15000, "pausedMs": 0})
        assert beat.status_code == 204  # the outbox has it
        shown = wait_until(lambda: printed(r"events not delivered yet: (.*)"),
                           "the delivery error on the console", timeout=60)
        assert "invalid_client" in shown.group(1)
        assert printed(re.escape(str(data_dir.resolve() / "outbox.sqlite3")))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        reader.join(timeout=10)
