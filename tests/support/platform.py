"""A real platform in a subprocess (uvicorn on 127.0.0.1), restartable on the same port and data."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import sqlalchemy as sa

from timeledger.server.store.database import create_engine
from timeledger.server.store.schema import events

STARTUP_DEADLINE_S = 30.0

# Ports the tests' servers listen on: below Linux's ephemeral range (from 32768), so no client
# connection takes one, split in a block for each pytest-xdist worker (gw0, gw1, ...), so two
# workers never hand out the same port.
TEST_PORTS = range(20000, 32768)


class PortBlock:
    """One worker's share of TEST_PORTS, handed out in turn, skipping ports in use."""

    def __init__(self, ports: range) -> None:
        self.ports = ports
        self._turn = itertools.cycle(ports)

    @classmethod
    def of_worker(cls, environ: Mapping[str, str]) -> PortBlock:
        worker = int(environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
        size = len(TEST_PORTS) // int(environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        first = TEST_PORTS.start + worker * size
        return cls(range(first, first + size))

    def next_free(self) -> int:
        for _ in self.ports:
            port = next(self._turn)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise RuntimeError(f"no free port in {self.ports}")


_PORTS = PortBlock.of_worker(os.environ)


def free_port() -> int:
    """A port of this worker's block that nothing listens on or holds."""
    return _PORTS.next_free()


def run_cli(*args: str, env: dict[str, str] | None = None, check: bool = True,
            input_text: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "timeledger", *args], capture_output=True, text=True, check=check,
        env={**os.environ, **(env or {})}, input=input_text, timeout=timeout,
    )


@dataclass(frozen=True)
class StoreLocation:
    """Where a store is: a data dir (SQLite, the file inside it), or a database URL (pg)."""

    data_dir: Path
    db_url: str | None = None

    def url(self) -> str:
        """The URL of the store (its SQLite file in the data dir, or the database)."""
        return self.db_url or f"sqlite:///{(self.data_dir / 'timeledger.sqlite3').resolve()}"

    def args(self) -> list[str]:
        """The options a `timeledger` command takes to use this store."""
        return ["--db", self.db_url] if self.db_url else ["--data-dir", str(self.data_dir)]

    def stored_events(self, learner_email: str) -> int:
        """How many events of this learner the store holds (read straight from `events`)."""
        engine = create_engine(self.url())
        try:
            with engine.connect() as conn:
                return int(conn.execute(
                    sa.select(sa.func.count()).select_from(events)
                    .where(events.c.learner_email == learner_email)).scalar_one())
        finally:
            engine.dispose()


class NewStore(Protocol):
    """The `new_store` fixture (tests/conftest.py): a store of the test's own on its backend."""

    def __call__(self, name: str, *, empty: bool = True) -> StoreLocation: ...


class PlatformProcess:
    """`timeledger serve` on a free loopback port, over a data dir (SQLite) or a database URL."""

    def __init__(self, data_dir: Path, *, db_url: str | None = None, timezone: str = "UTC",
                 extra_args: Sequence[str] = (), port: int | None = None,
                 startup_deadline: float = STARTUP_DEADLINE_S) -> None:
        self.data_dir = data_dir
        self.db_url = db_url
        self.timezone = timezone
        self.extra_args = list(extra_args)
        self.port = port or free_port()
        self.startup_deadline = startup_deadline
        self.process: subprocess.Popen[str] | None = None
        self.log_path = data_dir / "server.log"
        self._token_cache: dict[tuple[str, ...], str] = {}
        self._admin: tuple[str, str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store(self) -> StoreLocation:
        return StoreLocation(self.data_dir, self.db_url)

    def database_url(self) -> str:
        """The URL of the store this platform runs on (its SQLite file, or its database)."""
        return self.store.url()

    def db_args(self) -> list[str]:
        return self.store.args()

    def start(self) -> PlatformProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "timeledger", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--timezone", self.timezone, *self.db_args(),
             *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + self.startup_deadline
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"platform exited early:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # polling a real process coming up
        self.stop()
        raise RuntimeError(f"platform did not come up:\n{self.log_path.read_text()}")

    def stop(self, timeout: float = 15) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, *self.db_args(), check=check)

    def create_client(self, name: str = "test", scopes: Sequence[str] = ()) -> tuple[str, str]:
        scope_args = [arg for s in scopes for arg in ("--scope", s)]
        out = self.cli("clients", "create", name, *scope_args, "--json").stdout
        data = json.loads(out)
        return data["client_id"], data["client_secret"]

    def sdk_environment(self, name: str, outbox: Path) -> dict[str, str]:
        """The `TIMELEDGER_*` variables that point an SDK client at this platform as `name`."""
        client_id, secret = self.create_client(name)
        return {"TIMELEDGER_BASE_URL": self.base_url, "TIMELEDGER_CLIENT_ID": client_id,
                "TIMELEDGER_CLIENT_SECRET": secret, "TIMELEDGER_OUTBOX": str(outbox)}

    def admin_credentials(self) -> tuple[str, str]:
        if self._admin is None:
            self._admin = self.create_client("test-admin")
        return self._admin

    def token(self, scopes: Sequence[str] = ()) -> str:
        key = tuple(scopes)
        if key not in self._token_cache:
            client_id, secret = self.admin_credentials()
            data: dict[str, str] = {"grant_type": "client_credentials"}
            if scopes:
                data["scope"] = " ".join(scopes)
            reply = httpx.post(f"{self.base_url}/oauth2/token", data=data,
                               auth=(client_id, secret), timeout=10)
            reply.raise_for_status()
            self._token_cache[key] = reply.json()["access_token"]
        return self._token_cache[key]

    def http(self) -> httpx.Client:
        """An httpx client holding a token with every scope."""
        return httpx.Client(base_url=self.base_url, timeout=30,
                            headers={"Authorization": f"Bearer {self.token()}"})

    def send(self, envelope: dict[str, Any] | bytes, *, projected: bool = True,
             headers: dict[str, str] | None = None) -> httpx.Response:
        """POST an envelope; once accepted, wait (long poll) until its job is projected
        (`projected=False`: only until it is acknowledged)."""
        body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
        with self.http() as client:
            reply = client.post("/caliper/event", content=body,
                                headers={"Content-Type": "application/json",
                                         **(headers or {})})
            if reply.status_code == 200 and projected:
                self.wait_for_job(reply.json()["jobId"], client)
            return reply

    def wait_for_job(self, job_id: str, client: httpx.Client | None = None) -> dict[str, Any]:
        """The job once completed (`GET /jobs/{id}/status?wait=30`)."""
        if client is None:
            with self.http() as own:
                return self.wait_for_job(job_id, own)
        job: dict[str, Any] = client.get(f"/jobs/{job_id}/status",
                                         params={"wait": 30}).json()["job"]
        if job["state"] != "completed":
            raise AssertionError(f"job {job_id} still {job['state']} after 30 s")
        return job

    def settle(self) -> dict[str, Any]:
        """Wait until everything appended so far is projected; returns `projected_through`."""
        through: dict[str, Any] = self.get("/api/v1/projection")["projected_through"]
        return through

    def get(self, path: str, **params: Any) -> Any:
        """GET with every scope; query API reads are consistent (they wait for the projector)."""
        if path.startswith("/api/v1/"):
            params.setdefault("consistent", "true")
        with self.http() as client:
            reply = client.get(path, params=params)
            reply.raise_for_status()
            return reply.json()

    def __enter__(self) -> PlatformProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
