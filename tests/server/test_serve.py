"""`timeledger serve` from an empty data dir: it prints working credentials and stops cleanly."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from support.events import T0, heartbeat, unique_email, wrap
from support.platform import PlatformProcess, free_port


def test_first_start_prints_credentials_that_work(tmp_path: Path) -> None:
    platform = PlatformProcess(tmp_path / "data").start()
    try:
        log = platform.log_path.read_text()
        client_id = re.search(r"client id:\s+(\S+)", log)
        secret = re.search(r"client secret:\s+(\S+)", log)
        assert client_id and secret, log
        assert f"{platform.base_url}/caliper/event" in log
        assert f"{platform.base_url}/" in log
        assert httpx.get(f"{platform.base_url}/healthz").json() == {"status": "ok"}
        token = httpx.post(f"{platform.base_url}/oauth2/token",
                           data={"grant_type": "client_credentials"},
                           auth=(client_id.group(1), secret.group(1))).json()["access_token"]
        reply = httpx.post(f"{platform.base_url}/caliper/event",
                           json=wrap(heartbeat(unique_email(),
                                               "7d1f4a52-9b1e-4c1e-8d3a-5b7f2f1e9a10", T0, 15)),
                           headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 200
    finally:
        platform.stop()
    # A second start on the same data dir makes no new development client.
    again = PlatformProcess(tmp_path / "data", port=free_port())
    again.log_path = tmp_path / "second.log"
    with again:
        assert "client secret" not in again.log_path.read_text()


def test_ctrl_c_stops_cleanly_with_a_consistent_database(tmp_path: Path) -> None:
    platform = PlatformProcess(tmp_path / "data").start()
    email = unique_email()
    for minute in range(3):
        from datetime import timedelta

        event = heartbeat(email, "8e1f4a52-9b1e-4c1e-8d3a-5b7f2f1e9a10",
                          T0 + timedelta(minutes=minute), 15)
        assert platform.send(wrap(event)).status_code == 200
    assert platform.process is not None
    platform.process.send_signal(signal.SIGINT)
    assert platform.process.wait(timeout=15) == 0
    platform.process = None
    db = sqlite3.connect(tmp_path / "data" / "timeledger.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT count(*) FROM events WHERE learner_email = ?",
                      (email,)).fetchone() == (3,)


def test_clients_create_json_and_scope_choice(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "timeledger", "clients", "create", "app", "--scope",
           "reports:read", "--json", "--data-dir", str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    import json

    created = json.loads(out)
    assert set(created) == {"client_id", "client_secret"}
    db = sqlite3.connect(tmp_path / "timeledger.sqlite3")
    stored_hash, scopes = db.execute("SELECT secret_hash, scopes FROM api_clients").fetchone()
    assert created["client_secret"] not in stored_hash
    assert stored_hash.startswith("scrypt$")
    assert scopes == "reports:read"
    bad = subprocess.run([*cmd[:6], "everything", *cmd[7:]], capture_output=True, text=True)
    assert bad.returncode != 0
    assert "everything" in bad.stderr
