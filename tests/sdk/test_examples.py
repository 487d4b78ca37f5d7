"""The terminal quiz example and the README's Python section run, against a real platform."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import random
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests.support.platform import PlatformProcess
from tests.support.shared import REPO
from timeledger import Client
from timeledger.config import TimebackConfig
from timeledger.sdk import Receipt
from timeledger.testing import FakeClock

ROOT = REPO
QUIZ = ROOT / "examples" / "terminal_quiz.py"
README = ROOT / "README.md"


def load_quiz() -> ModuleType:
    spec = importlib.util.spec_from_file_location("terminal_quiz", QUIZ)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def platform_env(platform: PlatformProcess, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """TIMELEDGER_* pointing at the platform, with an outbox of this test's own."""
    client_id, secret = platform.create_client("examples")
    env = {"TIMELEDGER_BASE_URL": platform.base_url, "TIMELEDGER_CLIENT_ID": client_id,
           "TIMELEDGER_CLIENT_SECRET": secret,
           "TIMELEDGER_OUTBOX": str(tmp_path / "outbox.sqlite3")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_xp_is_one_per_focused_minute_with_mastery() -> None:
    xp_for = load_quiz().xp_for
    assert xp_for(179_999, correct=4, total=5) == 2  # whole focused minutes, 80 % right
    assert xp_for(600_000, correct=3, total=5) == 0  # below mastery: no XP
    assert xp_for(600_000, correct=0, total=0) == 0


def test_quiz_tracks_focused_time_and_reports_xp(
        platform: PlatformProcess, platform_env: dict[str, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    """Three right answers, 120 s focused and a 300 s pause: 2 XP, exact on the platform."""
    clock = FakeClock(datetime(2025, 3, 4, 9, 0, tzinfo=UTC))
    # (seconds the learner takes, what they type) for each prompt, in order
    script = [(40, "right"), (10, "p"), (300, ""), (20, "right"), (50, "right")]

    def read(prompt: str) -> str:
        seconds, typed = script.pop(0)
        clock.advance(seconds)
        if typed != "right":
            return typed
        a, b = map(int, re.findall(r"\d+", prompt))
        return str(a * b)

    run_id, email = str(uuid.uuid4()), f"quiz-{uuid.uuid4().hex[:8]}@example.edu"
    code = load_quiz().main(["--email", email, "--questions", "3", "--run-id", run_id,
                             "--seed", "5"], clock=clock, read=read)
    assert code == 0 and script == []
    out = capsys.readouterr().out
    assert "3/3 right in 2.0 focused minutes: 2 XP" in out
    assert "Reported to the platform." in out
    run = platform.get(f"/api/v1/runs/{run_id}")
    assert (run["active_seconds"], run["inactive_seconds"]) == (120.0, 300.0)
    assert run["completion"]["xp"] == 2
    assert (run["completion"]["total_questions"], run["completion"]["correct_questions"]) == (3, 3)


def test_quiz_runs_as_a_script(platform: PlatformProcess, platform_env: dict[str, str]) -> None:
    rng = random.Random(11)  # the quiz's --seed: the questions it will ask
    answers = [str(rng.randint(2, 12) * rng.randint(2, 12)) for _ in range(2)]
    run_id = str(uuid.uuid4())
    done = subprocess.run(
        [sys.executable, str(QUIZ), "--email", "script@example.edu", "--questions", "2",
         "--seed", "11", "--run-id", run_id],
        input="\n".join(answers) + "\n", capture_output=True, text=True, timeout=120, check=True)
    assert "2/2 right" in done.stdout and "Reported to the platform." in done.stdout
    completion = platform.get(f"/api/v1/runs/{run_id}")["completion"]
    assert (completion["total_questions"], completion["correct_questions"]) == (2, 2)


def test_readme_python_section_runs(platform: PlatformProcess,
                                    platform_env: dict[str, str]) -> None:
    section = README.read_text().split("## Track an activity from Python", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    receipt = namespace["receipt"]
    assert isinstance(receipt, Receipt) and receipt.delivered is True
    run = platform.get(f"/api/v1/runs/{receipt.run_id}")
    assert run["completion"]["xp"] == 1


def test_quiz_ends_cleanly_when_the_input_ends(platform: PlatformProcess,
                                               platform_env: dict[str, str]) -> None:
    """Ctrl-D after one answer: a message, exit 0, no traceback, the one answer reported."""
    rng = random.Random(11)
    answer = str(rng.randint(2, 12) * rng.randint(2, 12))
    run_id = str(uuid.uuid4())
    done = subprocess.run(
        [sys.executable, str(QUIZ), "--email", "eof@example.edu", "--questions", "3",
         "--seed", "11", "--run-id", run_id],
        input=answer + "\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "EOFError" not in done.stderr
    assert "input ended" in done.stdout and "1/1 right" in done.stdout
    completion = platform.get(f"/api/v1/runs/{run_id}")["completion"]
    assert (completion["total_questions"], completion["correct_questions"]) == (1, 1)


def test_waiting_events_are_counted_in_words() -> None:
    message = load_quiz().waiting_message
    assert "1 event waits in /o and goes out" in message(1, "/o")
    assert "3 events wait in /o and go out" in message(3, "/o")


FIRST_HOUR_DOCS = [README, ROOT / "examples" / "lesson_app" / "README.md",
                   *(path for path in sorted((ROOT / "docs").glob("*.md"))
                     # deployment on servers, where the installed package puts timeledger on PATH
                     if path.name != "scaling.md")]
VENV_TOOLS = {"timeledger", "python", "pytest", "ruff", "mypy", "pip", "lint-imports"}


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```(?:sh|bash|shell|console)\n(.*?)```", text, flags=re.S)


def commands(block: str) -> list[str]:
    """The block's command lines: continuations joined, comments and a `$ ` prompt dropped."""
    joined = re.sub(r"\\\n", " ", block)
    found = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip().removeprefix("$ ")
        if line and not line.startswith("#"):
            found.append(line)
    return found


def test_first_hour_shell_commands_work_without_an_activated_venv() -> None:
    """Each command runs a venv tool by its path, or its block activates the venv first."""
    bare: list[str] = []
    for path in FIRST_HOUR_DOCS:
        for block in shell_blocks(path.read_text()):
            activated = False
            for command in commands(block):
                if command in (". .venv/bin/activate", "source .venv/bin/activate"):
                    activated = True
                    continue
                words = [w for w in command.split() if not re.fullmatch(r"[A-Z_]+=\S*", w)]
                if words and words[0] in VENV_TOOLS and not activated:
                    bare.append(f"{path.relative_to(ROOT)}: {command}")
    assert bare == []


# README blocks no test here runs, by their first line, and why; any other block must run.
README_BLOCKS_NOT_RUN = {
    "make serve": "the test's own platform on a fresh data dir stands in for it",
    '<script type="module">': "browser code: tests/web run the client in Chromium",
    ". .venv/bin/activate": "a synopsis with placeholders; each command has tests of its own",
    "src/timeledger/": "a directory tree, not code",
    "make test-fast": "runs this suite",
}


def test_readme_blocks_run_in_order(make_platform: Callable[..., PlatformProcess],
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each code block of the README, in order, as a newcomer runs it on a fresh clone: shell
    blocks in bash from the repository root, Python blocks in one session in an app's folder
    holding the README's timeback.config.json, against a platform on a fresh data dir."""
    platform = make_platform()
    client_id, secret = platform.create_client("readme", ("events:write", "reports:read"))
    environment = platform.sdk_environment("readme-sdk", tmp_path / "outbox.sqlite3")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    app_folder = tmp_path / "app"
    app_folder.mkdir()
    monkeypatch.chdir(app_folder)
    namespace: dict[str, object] = {}
    ran: list[str] = []
    for language, block in re.findall(r"```(\w*)\n(.*?)```", README.read_text(), flags=re.S):
        first = block.splitlines()[0]
        if any(first.startswith(skipped) for skipped in README_BLOCKS_NOT_RUN):
            continue
        if language == "json":
            (app_folder / "timeback.config.json").write_text(block)
        elif language == "python":
            exec(compile(block, str(README), "exec"), namespace)
        elif language == "sh":
            for sent in re.findall(r"@(\S+)", block):
                assert (ROOT / sent).resolve().is_relative_to(ROOT), f"{sent} is not in the clone"
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c",
                 block.replace("http://127.0.0.1:8000", platform.base_url)],
                cwd=ROOT, env={"PATH": os.environ["PATH"], "CLIENT_ID": client_id,
                               "CLIENT_SECRET": secret},
                capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            namespace[f"shell_output_{len(ran)}"] = done.stdout
        else:
            raise AssertionError(f"a README block this test does not know: {first!r}")
        ran.append(first)
    assert len(ran) == 4, ran
    # the first event: curl prints each answer without a newline after it
    decoder = json.JSONDecoder()
    posted, end = decoder.raw_decode(str(namespace["shell_output_0"]))
    run, _ = decoder.raw_decode(str(namespace["shell_output_0"]), end)
    assert posted["status"] == "success"
    assert (run["active_seconds"], run["inactive_seconds"]) == (12.0, 3.0)
    assert run["completion"]["total_questions"] == 4
    # the Python section's activity, delivered
    receipt = namespace["receipt"]
    assert isinstance(receipt, Receipt) and receipt.delivered is True
    assert platform.get(f"/api/v1/runs/{receipt.run_id}")["completion"]["xp"] == 1
    # the browser section's app: a signed-in learner's heartbeat, through its adapter, leaves
    # with the course id of the README's timeback.config.json
    client, sessions = namespace["client"], namespace["SESSIONS"]
    assert isinstance(client, Client) and isinstance(sessions, dict)
    email, run_id = f"readme-{uuid.uuid4().hex[:8]}@example.edu", str(uuid.uuid4())
    sessions["cookie-1"] = {"email": email, "id": "student-9"}
    heartbeat = {"id": "fractions-1", "name": "Fractions 1",
                 "course": {"subject": "Math", "grade": 3}, "runId": run_id,
                 "startedAt": "2025-01-15T10:00:00.000Z", "endedAt": "2025-01-15T10:00:15.000Z",
                 "elapsedMs": 15000, "pausedMs": 0}

    async def post_from_the_browser() -> httpx.Response:
        transport = httpx.ASGITransport(app=namespace["app"])  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1",
                                     cookies={"session": "cookie-1"}) as browser:
            return await browser.post("/api/timeback/activity/heartbeat", json=heartbeat)

    beat = asyncio.run(post_from_the_browser())
    assert beat.status_code == 204
    assert client.flush(timeout=30)
    client.close()
    [stored] = platform.get("/caliper/events", learner=email, runId=run_id)["events"]
    assert stored["event"]["extensions"]["courseId"] == "math-g3"


def test_readme_shows_the_timeback_config_its_browser_section_reads() -> None:
    section = README.read_text().split("## Track activities in the browser", 1)[1]
    section = section.split("\n## ", 1)[0]
    [shown] = re.findall(r"```json\n(.*?)```", section, flags=re.S)
    [python] = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert 'config="timeback.config.json"' in python
    config = TimebackConfig.load(json.loads(shown))
    course = config.select({"subject": "Math", "grade": 3})
    assert course.course_id == "math-g3" and course.goals["dailyXp"] == 20
    assert course.total_lessons == 10
