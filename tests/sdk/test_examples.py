"""The terminal quiz example and the README's Python section run, against a real platform."""

from __future__ import annotations

import importlib.util
import random
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from support.platform import PlatformProcess
from timeledger.sdk import Receipt
from timeledger.testing import FakeClock

ROOT = Path(__file__).resolve().parents[2]
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
