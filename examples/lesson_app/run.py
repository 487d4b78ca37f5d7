"""Start a local platform and the lesson app together: `python examples/lesson_app/run.py`."""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import uvicorn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from app import create_app  # noqa: E402

from timeledger import Client  # noqa: E402

STARTUP_DEADLINE_S = 30.0


def start_platform(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """`timeledger serve` on 127.0.0.1:port over an SQLite file in data_dir, once it answers."""
    process = subprocess.Popen([sys.executable, "-m", "timeledger", "serve", "--host", "127.0.0.1",
                                "--port", str(port), "--data-dir", str(data_dir)])
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the platform exited with status {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # waiting for a real process to come up
    process.kill()
    raise SystemExit("the platform did not come up")


def credentials(data_dir: Path) -> tuple[str, str]:
    """The app's API client on the platform: created on the first run, then reused."""
    saved = data_dir / "client.json"
    if not saved.exists():
        out = subprocess.run([sys.executable, "-m", "timeledger", "clients", "create", "lesson-app",
                              "--scope", "events:write", "--json", "--data-dir", str(data_dir)],
                             check=True, capture_output=True, text=True).stdout
        saved.write_text(out)
    data = json.loads(saved.read_text())
    return data["client_id"], data["client_secret"]


def cookie_secret(data_dir: Path) -> str:
    path = data_dir / "cookie-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8001, help="the app's port")
    parser.add_argument("--platform-port", type=int, default=8000, help="the platform's port")
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data",
                        help="where the platform database, outbox and app tables live")
    args = parser.parse_args()
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    platform = start_platform(data_dir / "platform", args.platform_port)
    try:
        client_id, client_secret = credentials(data_dir / "platform")
        client = Client(base_url=f"http://127.0.0.1:{args.platform_port}", client_id=client_id,
                        client_secret=client_secret, config=str(HERE / "timeback.config.json"),
                        outbox=str(data_dir / "outbox.sqlite3"))
        app = create_app(client, db_path=data_dir / "lessons.sqlite3",
                         secret=cookie_secret(data_dir))
        print(f"\n  Lesson app: http://127.0.0.1:{args.port}/"
              f"\n  Platform dashboard: http://127.0.0.1:{args.platform_port}/\n", flush=True)
        try:
            uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
        finally:
            client.close(timeout=5)
    finally:
        platform.send_signal(signal.SIGINT)
        try:
            platform.wait(15)
        except subprocess.TimeoutExpired:
            platform.kill()


if __name__ == "__main__":
    main()
