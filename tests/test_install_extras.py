"""`pip install timeledger` without extras: the SDK and the Starlette adapter work, the platform's
libraries stay out, and `timeledger serve` says in one line which extra to install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.platform import PlatformProcess
from tests.support.shared import REPO

ROOT = REPO
# Distributions only the platform (or Django) needs; none may come with the core install.
PLATFORM_ONLY = {"fastapi", "uvicorn", "uvloop", "sqlalchemy", "alembic", "psycopg",
                 "psycopg-binary", "jinja2", "rich", "zstandard", "msgspec", "django"}
SERVER_HINT = "timeledger serve needs the platform: pip install 'timeledger[server]'"


def run(*command: str | Path, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """A command with no venv of ours on its paths (only the fresh venv's own)."""
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    return subprocess.run([str(part) for part in command], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel built from this tree, installed without extras."""
    folder = tmp_path_factory.mktemp("core-install")
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                "--wheel-dir", folder / "dist", ROOT, cwd=folder)
    assert built.returncode == 0, built.stderr
    [wheel] = (folder / "dist").glob("timeledger-*.whl")
    venv = folder / "venv"
    made = run(sys.executable, "-m", "venv", venv, cwd=folder)
    assert made.returncode == 0, made.stderr
    installed = run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel,
                    cwd=folder)
    assert installed.returncode == 0, installed.stderr
    return venv


@pytest.mark.install
def test_the_sdk_and_the_starlette_adapter_work_without_the_platform(
        core_venv: Path, tmp_path: Path) -> None:
    learner = f"core-{uuid.uuid4().hex[:8]}@example.edu"
    sdk_run, adapter_run = str(uuid.uuid4()), str(uuid.uuid4())
    with PlatformProcess(tmp_path / "platform") as platform:
        environment = platform.sdk_environment("core-install", tmp_path / "outbox.sqlite3")
        app = subprocess.run(
            [str(core_venv / "bin" / "python"), str(ROOT / "tests" / "core_install_app.py"),
             learner, sdk_run, adapter_run],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **environment})
        assert app.returncode == 0, app.stderr
        report = json.loads(app.stdout)
        stored = platform.get("/caliper/events", learner=learner)["events"]
    # the wheel in the fresh venv ran, not this source tree
    assert Path(report["timeledger_file"]).is_relative_to(core_venv)
    assert (report["enqueued"], report["heartbeat_status"], report["delivered"]) == (
        True, 204, True)
    assert report["script_status"] == 200 and "javascript" in report["script_type"]
    sessions = sorted(item["event"]["session"] for item in stored)
    assert sessions == sorted(f"urn:uuid:{run_id}" for run_id in (sdk_run, adapter_run))
    installed = set(report["distributions"])
    assert {"timeledger", "httpx", "orjson", "pydantic", "platformdirs", "starlette"} <= installed
    assert installed & PLATFORM_ONLY == set()


@pytest.mark.install
def test_serve_names_the_extra_to_install_in_one_line(core_venv: Path, tmp_path: Path) -> None:
    for arguments in (["serve"], ["serve", "--port", "8000", "--data-dir", str(tmp_path)],
                      ["serve", "--help"]):
        served = run(core_venv / "bin" / "timeledger", *arguments, cwd=tmp_path, timeout=60)
        assert served.returncode != 0
        assert served.stdout == ""
        [line] = served.stderr.splitlines()
        assert SERVER_HINT in line, line
    listed = run(core_venv / "bin" / "timeledger", "--help", cwd=tmp_path, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "serve" in listed.stdout and "timeledger[server]" in listed.stdout


@pytest.mark.unit
def test_postgresql_without_psycopg_names_the_postgres_extra(tmp_path: Path) -> None:
    """`timeledger[server]` without `[postgres]`: psycopg is missing (here: made unimportable)."""
    served = run(sys.executable, "-c",
                 "import sys; sys.modules['psycopg'] = None; "
                 "from timeledger.cli.main import main; main()",
                 "serve", "--db", "postgresql://nobody@127.0.0.1:9/none", cwd=tmp_path, timeout=60)
    assert served.returncode != 0
    [line] = served.stderr.splitlines()
    assert "a PostgreSQL database needs psycopg: pip install 'timeledger[postgres]'" in line
