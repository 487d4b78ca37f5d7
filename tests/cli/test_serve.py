"""`timeledger serve` from an empty data dir: it prints working credentials and stops cleanly."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.support.events import T0, heartbeat, unique_email, wrap
from tests.support.platform import NewStore, PlatformProcess, free_port
from timeledger.server.store.database import create_engine
from timeledger.server.store.schema import api_clients


def test_first_start_prints_credentials_that_work(new_store: NewStore, tmp_path: Path) -> None:
    store = new_store("data")
    platform = PlatformProcess(store.data_dir, db_url=store.db_url).start()
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
    # A second start on the same data dir (database) makes no new development client.
    again = PlatformProcess(store.data_dir, db_url=store.db_url, port=free_port())
    again.log_path = tmp_path / "second.log"
    with again:
        assert "client secret" not in again.log_path.read_text()


def test_every_start_says_where_the_data_lives_and_later_ones_how_to_make_a_client(
        new_store: NewStore, tmp_path: Path) -> None:
    store = new_store("data")
    first = PlatformProcess(store.data_dir, db_url=store.db_url)
    first.log_path = tmp_path / "first.log"
    with first:
        pass
    again = PlatformProcess(store.data_dir, db_url=store.db_url)
    again.log_path = tmp_path / "second.log"
    with again:
        pass
    first_log, second_log = first.log_path.read_text(), again.log_path.read_text()
    if store.db_url is None:
        sqlite_file = str(store.data_dir.resolve() / "timeledger.sqlite3")
        assert sqlite_file in first_log and sqlite_file in second_log
        assert str(store.data_dir.resolve()) in second_log
    assert "clients create" not in first_log  # the first start shows a secret instead
    hint = re.search(r"^\s+(\S.* clients create NAME --json .*)$", second_log, flags=re.M)
    assert hint, second_log
    command = shlex.split(hint.group(1).replace("NAME", "second-app"))
    if store.db_url is not None:  # the hint never shows a password: the operator fills in URL
        command[command.index("URL")] = store.db_url
    made = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(made.stdout)["client_secret"]


def test_ctrl_c_stops_cleanly_with_a_consistent_database(new_store: NewStore) -> None:
    store = new_store("data")
    platform = PlatformProcess(store.data_dir, db_url=store.db_url).start()
    email = unique_email()
    for minute in range(3):
        event = heartbeat(email, "8e1f4a52-9b1e-4c1e-8d3a-5b7f2f1e9a10",
                          T0 + timedelta(minutes=minute), 15)
        assert platform.send(wrap(event)).status_code == 200
    assert platform.process is not None
    platform.process.send_signal(signal.SIGINT)
    assert platform.process.wait(timeout=15) == 0
    platform.process = None
    if store.db_url is None:  # SQLite's own check of its file (on pg, the server owns the files)
        db = sqlite3.connect(store.data_dir / "timeledger.sqlite3")
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
    assert store.stored_events(email) == 3


def test_clients_create_json_and_scope_choice(new_store: NewStore) -> None:
    store = new_store("data")
    cmd = [sys.executable, "-m", "timeledger", "clients", "create", "app", "--scope",
           "reports:read", "--json", *store.args()]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    created = json.loads(out)
    assert set(created) == {"client_id", "client_secret"}
    engine = create_engine(store.url())
    try:
        with engine.connect() as conn:
            stored_hash, scopes = conn.execute(
                sa.select(api_clients.c.secret_hash, api_clients.c.scopes)).one()
    finally:
        engine.dispose()
    assert created["client_secret"] not in stored_hash
    assert stored_hash.startswith("scrypt$")
    assert scopes == "reports:read"
    # `--scope everything` (cmd[7] is the scope): refused by the choice, naming it.
    bad = subprocess.run([*cmd[:7], "everything", *cmd[8:]], capture_output=True, text=True)
    assert bad.returncode != 0
    assert "everything" in bad.stderr


def _projector_children(pid: int) -> list[int]:
    """The `timeledger project` processes whose parent is `pid` (read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid and b"project" in cmdline:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize(("args", "lower_by"), [((), 0), (("--projector-nice", "3"), 3),
                                                (("--projector-nice", "10"), 10)])
def test_the_projector_runs_below_the_apis_cpu_priority(
        tmp_path: Path, args: tuple[str, ...], lower_by: int) -> None:
    with PlatformProcess(tmp_path / "data", extra_args=list(args)) as platform:
        assert platform.process is not None
        api = platform.process.pid
        children = _projector_children(api)
        assert len(children) == 1
        assert (os.getpriority(os.PRIO_PROCESS, children[0])
                - os.getpriority(os.PRIO_PROCESS, api)) == lower_by


def test_projector_nice_is_bounded(tmp_path: Path) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "timeledger", "serve", "--data-dir", str(tmp_path),
         "--projector-nice", "20"], capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 2
    assert "--projector-nice" in refused.stderr and "0<=x<=19" in refused.stderr
