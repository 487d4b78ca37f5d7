"""Start a local platform and the lesson app together: `python examples/lesson_app/run.py`."""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import uvicorn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the repository root: `examples.lesson_app`

from examples.lesson_app.app import create_app  # noqa: E402
from timeledger import Client, ErrorContext  # noqa: E402

STARTUP_DEADLINE_S = 30.0
PREFERRED_APP_PORT = 8001


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def any_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def choose_port(requested: int | None, preferred: int | None, option: str) -> int:
    """The port asked for, refused clearly when something listens there; else the preferred
    port when it is free, else any free one."""
    if requested is not None:
        if not port_is_free(requested):
            raise SystemExit(
                f"port {requested} ({option}) is taken: another process (a `make serve`?) listens "
                f"there. Name a free port, or leave {option} out and a free one is picked.")
        return requested
    if preferred is not None and port_is_free(preferred):
        return preferred
    return any_free_port()


def start_platform(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """`timeledger serve` on 127.0.0.1:port over an SQLite file in data_dir, once it answers.
    The health check is sent with a Host name only this platform serves, so another platform on
    the port (it answers 400 to that name) is never taken for ours."""
    own_name = f"lesson-app-{secrets.token_hex(6)}.localhost"
    process = subprocess.Popen([sys.executable, "-m", "timeledger", "serve", "--host", "127.0.0.1",
                                "--port", str(port), "--data-dir", str(data_dir),
                                "--allowed-host", own_name])
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the platform exited with status {process.returncode} "
                             f"(is port {port} taken?)")
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1,
                               headers={"Host": own_name})
            if answer.status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # waiting for a real process to come up
    process.kill()
    raise SystemExit("the platform did not come up")


class DeliveryConsole:
    """Says on the console when events cannot be delivered, once per different error."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self.last_shown = ""

    def __call__(self, error: Exception, context: ErrorContext) -> None:
        if context.dead:
            print(f"  [timeledger] a {context.kind} event was given up on: {error}", flush=True)
            return
        if str(error) != self.last_shown:
            self.last_shown = str(error)
            print(f"  [timeledger] events not delivered yet: {error}\n"
                  f"  [timeledger] they wait in {self.outbox} and are retried", flush=True)


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
    parser.add_argument("--port", type=int,
                        help=f"the app's port (default {PREFERRED_APP_PORT}, or a free one)")
    parser.add_argument("--platform-port", type=int,
                        help="the platform's port (default: a free one)")
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data",
                        help="where the platform database, outbox and app tables live")
    args = parser.parse_args()
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    platform_port = choose_port(args.platform_port, None, "--platform-port")
    app_port = choose_port(args.port, PREFERRED_APP_PORT, "--port")
    platform = start_platform(data_dir / "platform", platform_port)
    try:
        client_id, client_secret = credentials(data_dir / "platform")
        outbox = data_dir / "outbox.sqlite3"
        client = Client(base_url=f"http://127.0.0.1:{platform_port}", client_id=client_id,
                        client_secret=client_secret, config=str(HERE / "timeback.config.json"),
                        outbox=str(outbox), on_error=DeliveryConsole(outbox),
                        retry_attempts=0)  # the console hears of the first failure
        app = create_app(client, db_path=data_dir / "lessons.sqlite3",
                         secret=cookie_secret(data_dir))
        print(f"\n  Lesson app: http://127.0.0.1:{app_port}/"
              f"\n  Platform dashboard: http://127.0.0.1:{platform_port}/\n", flush=True)
        try:
            uvicorn.run(app, host="127.0.0.1", port=app_port, log_level="warning")
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
