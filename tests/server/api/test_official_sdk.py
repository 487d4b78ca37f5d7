"""The official Timeback server SDK (PyPI `timeback-sdk`), unchanged, with timeledger as its
backend: its FastAPI handlers, every base URL (auth, Caliper, OneRoster) at a running platform,
take a learner through heartbeat and submit twice for one activity.

The SDK is installed from PyPI into a venv of its own (it needs Python >= 3.12: the running
interpreter, a `python3.12`/`python3.13` on PATH, or pyenv's), cached under the system temp
folder. The test skips, saying why, only when that install cannot be done.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.platform import PlatformProcess
from tests.support.roster_rows import add_rows, student
from timeledger.caliper.times import format_utc

SDK_REQUIREMENT = "timeback-sdk[fastapi]==0.4.0"  # the release this compatibility was checked on
DRIVER = Path(__file__).with_name("official_sdk_driver.py")
SENSOR = "https://official-sdk-app.example.com"
GRADEBOOK = "/ims/oneroster/gradebook/v1p2"
INSTALL_TIMEOUT_S = 600


def _version(python: str) -> tuple[int, int] | None:
    try:
        done = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    major, minor = done.stdout.split()
    return int(major), int(minor)


def _python_312_or_later() -> str | None:
    candidates = [sys.executable, shutil.which("python3.13"), shutil.which("python3.12")]
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/3.1[2-9]*/bin/python"), reverse=True)
    candidates.append(_uv_python())  # what scripts/install-test-deps.sh installs when none is here
    for python in candidates:
        if python and (_version(python) or (0, 0)) >= (3, 12):
            return python
    return None


def _uv_python() -> str | None:
    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        return None
    try:
        found = subprocess.run([str(uv), "python", "find", "--managed-python", ">=3.12"],
                               capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None


@pytest.fixture(scope="session")
def official_sdk_python() -> str:
    """The venv's interpreter with the official SDK installed (installed once, then cached)."""
    python = _python_312_or_later()
    if python is None:
        pytest.skip("timeback-sdk needs Python >= 3.12 and none was found (PATH, pyenv, uv)")
    version = _version(python)
    tag = hashlib.sha256(f"{SDK_REQUIREMENT} {version}".encode()).hexdigest()[:12]
    venv = Path(tempfile.gettempdir()) / f"timeledger-official-sdk-{tag}"
    ready = venv / "installed"
    venv_python = str(venv / "bin" / "python")
    if not ready.exists():
        shutil.rmtree(venv, ignore_errors=True)
        steps = [[python, "-m", "venv", str(venv)],
                 [venv_python, "-m", "pip", "install", "--quiet", SDK_REQUIREMENT]]
        for step in steps:
            try:
                subprocess.run(step, capture_output=True, text=True, check=True,
                               timeout=INSTALL_TIMEOUT_S)
            except (OSError, subprocess.SubprocessError) as exc:
                output = getattr(exc, "stderr", "") or str(exc)
                pytest.skip(f"could not install {SDK_REQUIREMENT} with {python}: "
                            f"{output.strip()[-500:]}")
        ready.write_text(SDK_REQUIREMENT)
    return venv_python


def drive(python: str, plan: dict[str, Any], folder: Path) -> list[dict[str, Any]]:
    path = folder / f"plan-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(plan))
    done = subprocess.run([python, str(DRIVER), str(path)], capture_output=True, text=True,
                          timeout=120, cwd=folder)
    assert done.returncode == 0, done.stderr[-3000:]
    steps: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return steps


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def lesson(run_id: str, start: datetime, pct: int) -> list[dict[str, Any]]:
    """Ten active minutes and half a minute paused, then a completion worth 8 XP at 7/10."""
    activity = {"id": "fractions-1", "name": "Fractions 1",
                "course": {"subject": "Math", "grade": 3}, "runId": run_id}
    end = start + timedelta(minutes=10, seconds=30)
    return [
        {"route": "activity/heartbeat", "body": {
            **activity, "startedAt": format_utc(start), "endedAt": format_utc(end),
            "elapsedMs": 600_000, "pausedMs": 30_000}},
        {"route": "activity/submit", "body": {
            **activity, "endedAt": format_utc(end), "pctComplete": pct,
            "metrics": {"xpEarned": 8, "totalQuestions": 10, "correctQuestions": 7}}},
    ]


def test_the_official_sdk_runs_against_timeledger_unchanged(
        official_sdk_python: str, platform: PlatformProcess, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    sourced_id, email = f"official-{tag}", f"Official.{tag}@school.example"
    course_id = f"math-g3-{tag}"
    add_rows(platform.database_url(), student(sourced_id, email))
    (tmp_path / "timeback.config.json").write_text(json.dumps({
        "name": "Official SDK App", "sensor": SENSOR,
        "courses": [{"subject": "Math", "grade": 3,
                     "ids": {"staging": course_id, "production": course_id}}]}))
    client_id, secret = platform.create_client(f"official-sdk-{tag}")
    plan = {"platform": platform.base_url, "client_id": client_id, "client_secret": secret,
            "email": email, "config_path": str(tmp_path / "timeback.config.json")}
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    first = drive(official_sdk_python, {**plan, "steps": lesson(str(uuid.uuid4()), start, 50)},
                  tmp_path)
    platform.settle()  # the first attempt is in the gradebook before the SDK numbers the next
    second = drive(official_sdk_python, {**plan, "steps": lesson(
        str(uuid.uuid4()), start + timedelta(minutes=20), 100)}, tmp_path)
    platform.settle()

    assert [(s["route"], s["status"]) for s in first + second] == [
        ("activity/heartbeat", 204), ("activity/submit", 204)] * 2, first + second
    learner = email.lower()
    events = [row["event"] for row in platform.get("/caliper/events", learner=learner,
                                                   limit=100)["events"]]
    actors = {e["actor"]["id"] for e in events}
    # the SDK found the user by e-mail through the rostering API: its actor ids name the sourcedId
    assert actors == {f"{platform.base_url}/ims/oneroster/rostering/v1p2/users/{sourced_id}"}
    completions = sorted((e for e in events if e["type"] == "ActivityEvent"),
                         key=lambda event: event["eventTime"])
    assert [c["generated"]["attempt"] for c in completions] == [1, 2]

    summary = platform.get(f"/api/v1/learners/{learner}/summary")["totals"]
    assert (summary["active_minutes"], summary["inactive_minutes"], summary["xp"],
            summary["completions"]) == (20, 1, 16, 2)

    object_id = f"{SENSOR}/activities/Math/g3/fractions-1"
    line_item = f"caliper_{sha256_hex(f'{object_id}_{course_id}')}"
    results = platform.get(f"{GRADEBOOK}/assessmentResults", filter=(
        f"status='active' AND assessmentLineItem.sourcedId='{line_item}' "
        f"AND student.sourcedId='{sourced_id}'"))["assessmentResults"]
    assert sorted(r["metadata"]["attempt"] for r in results) == [1, 2]

    mastery_item = f"timeback_sdk_{sha256_hex(f'mastery-completion_{course_id}')}"
    mastery_result = f"timeback_sdk_{sha256_hex(f'mastery-completion_{course_id}_{sourced_id}')}"
    item = platform.get(f"{GRADEBOOK}/assessmentLineItems/{mastery_item}")["assessmentLineItem"]
    assert item["title"] == "Official SDK App: Complete"
    result = platform.get(f"{GRADEBOOK}/assessmentResults/{mastery_result}")["assessmentResult"]
    assert (result["score"], result["scoreStatus"], result["student"]["sourcedId"],
            result["assessmentLineItem"]["sourcedId"]) == (100, "fully graded", sourced_id,
                                                           mastery_item)
