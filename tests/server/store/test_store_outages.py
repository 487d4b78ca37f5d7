"""A store that cannot take writes answers 503 with Retry-After, keeps the connection, loses
nothing acknowledged, and recovers by itself; /readyz says so, /healthz stays liveness."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support.events import T0, heartbeat, unique_email, wrap
from tests.support.platform import PlatformProcess
from tests.support.postgres import PostgresCluster, PostgresUnavailable
from timeledger.server.store.availability import outage_reason, unwritable_reason
from timeledger.server.store.database import create_engine
from timeledger.server.store.schema import events

RUN = "4b1f4a52-9b1e-4c1e-8d3a-5b7f2f1e9a10"


def _envelope(email: str, minute: int) -> bytes:
    return json.dumps(wrap(heartbeat(email, RUN, T0 + timedelta(minutes=minute), 15))).encode()


def _local_port(reply: httpx.Response) -> int:
    stream = reply.extensions["network_stream"]
    port: int = stream.get_extra_info("client_addr")[1]
    return port


def _stored(url: str, email: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(events)
                                    .where(events.c.learner_email == email)).scalar_one())
    finally:
        engine.dispose()


def _assert_unavailable(reply: httpx.Response) -> None:
    assert reply.status_code == 503, reply.text
    assert int(reply.headers["Retry-After"]) >= 1
    body = reply.json()
    assert body["imsx_codeMajor"] == "failure"
    assert "store cannot take requests now" in body["imsx_description"]


def _outage_round(platform: PlatformProcess, email: str, break_store: Any,
                  mend_store: Any) -> None:
    """Sent, broken, refused with 503 on a connection that stays usable, mended, sent again."""
    headers = {"Authorization": f"Bearer {platform.token()}",
               "Content-Type": "application/json"}
    with httpx.Client(base_url=platform.base_url, headers=headers, timeout=60) as client:
        assert client.post("/caliper/event", content=_envelope(email, 0)).status_code == 200
        assert client.get("/readyz").json() == {"status": "ready"}
        break_store()
        refused = client.post("/caliper/event", content=_envelope(email, 1))
        _assert_unavailable(refused)
        # The same keep-alive connection answers the next request.
        alive = client.get("/healthz")
        assert alive.json() == {"status": "ok"}
        assert _local_port(alive) == _local_port(refused)
        _assert_unavailable(client.get("/readyz"))
        mend_store()
        resent = client.post("/caliper/event", content=_envelope(email, 1))
        assert resent.status_code == 200, resent.text
        assert client.get("/readyz").status_code == 200
    assert _stored(platform.database_url(), email) == 2  # both acknowledged, each once


@contextmanager
def _own_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster().start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


def test_postgres_stopped_mid_run_gives_503_then_recovers(tmp_path: Path) -> None:
    """A cluster of this test's own, so stopping it disturbs no other test."""
    with _own_cluster() as cluster, \
            PlatformProcess(tmp_path, db_url=cluster.new_database()) as platform:
        platform.token()  # fetched while the store is up
        _outage_round(platform, unique_email(), cluster.halt, cluster.resume)


def _chattr(flag: str, *files: Path) -> None:
    subprocess.run(["chattr", flag, *map(str, files)], check=True, capture_output=True)


def test_read_only_sqlite_file_gives_503_then_recovers(tmp_path: Path) -> None:
    """The database file and its log made immutable under the running server (what a
    filesystem remounted read-only does to it); needs CAP_LINUX_IMMUTABLE, as root has."""
    with PlatformProcess(tmp_path) as platform:
        platform.token()
        database = tmp_path / "timeledger.sqlite3"
        files = [database, database.with_name(database.name + "-wal")]
        try:
            _chattr("+i", *files)
            _chattr("-i", *files)
        except (OSError, subprocess.CalledProcessError) as exc:
            pytest.skip(f"cannot make files immutable here (chattr): {exc}")
        try:
            _outage_round(platform, unique_email(), lambda: _chattr("+i", *files),
                          lambda: _chattr("-i", *files))
        finally:
            _chattr("-i", *files)


def test_which_sqlite_errors_are_outages(tmp_path: Path) -> None:
    """Real SQLite errors, classified by their result codes."""
    path = tmp_path / "store.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x TEXT)")
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA max_page_count = 3")
            with pytest.raises(sa.exc.OperationalError) as full:
                conn.exec_driver_sql("INSERT INTO t VALUES (?)", ("x" * 100_000,))
            conn.rollback()
        assert "full" in str(full.value)
        assert outage_reason(full.value) is not None
        with engine.connect() as conn, pytest.raises(sa.exc.OperationalError) as missing:
            conn.exec_driver_sql("SELECT * FROM no_such_table")
        assert outage_reason(missing.value) is None  # a bug, not an outage: a 500
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with engine.connect() as conn, pytest.raises(sa.exc.OperationalError) as locked:
                conn.exec_driver_sql("PRAGMA busy_timeout = 0")
                conn.exec_driver_sql("INSERT INTO t VALUES ('y')")
            assert outage_reason(locked.value) is not None
            assert unwritable_reason(engine) is not None  # /readyz: the write lock is held
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert unwritable_reason(engine) is None
        assert outage_reason(ValueError("not a database error")) is None
    finally:
        engine.dispose()
