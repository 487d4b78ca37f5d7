"""The test clusters' sweep: a cluster whose session and server are gone is removed, not fatal."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.postgres import OWNER_FILE, PostgresCluster, PostgresUnavailable, in_ci


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def _started() -> PostgresCluster:
    try:
        return PostgresCluster().start()
    except PostgresUnavailable as exc:
        if in_ci():
            pytest.fail(f"CI must run the PostgreSQL tests: {exc}")
        pytest.skip(str(exc))


def _as_restored_from_a_snapshot(cluster: PostgresCluster) -> Path:
    """Leave the cluster as a machine restored from a snapshot finds it: its folder and its
    postmaster.pid are there, its session and its server are not."""
    assert cluster.root is not None
    root = cluster.root
    pid_file = cluster.data_dir / "postmaster.pid"
    _server_pid, *rest = pid_file.read_text().splitlines(keepends=True)
    cluster.halt()
    assert not pid_file.exists()
    # Not the halted server's own pid: where pid 1 does not reap orphans it lingers as a zombie.
    pid_file.write_text("".join([f"{_dead_pid()}\n", *rest]))
    (root / OWNER_FILE).write_text(str(_dead_pid()))
    return root


def test_a_cluster_left_without_its_server_is_removed_when_the_next_one_starts() -> None:
    stale = _started()
    stale_root = _as_restored_from_a_snapshot(stale)
    assert not stale.server_running()

    with PostgresCluster() as fresh:
        assert fresh.server_running()
        assert not stale_root.exists()
    stale.root = None  # already swept; its atexit stop has nothing left to do


def test_a_cluster_whose_session_is_alive_is_left_alone() -> None:
    live = _started()
    try:
        with PostgresCluster() as other:
            assert other.root != live.root
            assert live.server_running()
    finally:
        live.stop()
    assert live.root is None
