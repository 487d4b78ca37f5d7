"""A SQLite store on a full disk (a small tmpfs, filled to the last byte): sends are refused with
an error, nothing acknowledged is lost, and once space is freed the same server stores the rest."""

from __future__ import annotations

import errno
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.events import T0, heartbeat, unique_email, wrap
from tests.support.platform import PlatformProcess
from tests.support.stored_events import stored_event_ids

DISK_BYTES = 24 * 1024 * 1024
EVENTS_PER_ENVELOPE = 50
MAX_ENVELOPES = 400
REFUSALS_WANTED = 3
ROOM_BYTES = 512 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of DISK_BYTES mounted for this test (needs root, as in CI)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs",
                    str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(path: Path) -> None:
    """Write `path` until the filesystem has no byte left."""
    chunk = b"\0" * 65536
    with path.open("wb", buffering=0) as ballast:
        while True:
            try:
                ballast.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        for size in (4096, 512, 1):
            while True:
                try:
                    ballast.write(b"\0" * size)
                except OSError:
                    break


@pytest.mark.backends("sqlite")
def test_a_full_disk_refuses_sends_loses_nothing_acknowledged_and_recovers(
        small_disk: Path) -> None:
    platform = PlatformProcess(small_disk / "data").start()
    ballast = small_disk / "ballast"
    try:
        email, run_id = unique_email("full"), str(uuid.uuid4())
        envelopes = [wrap(*(heartbeat(email, run_id, T0 + timedelta(
            minutes=n * EVENTS_PER_ENVELOPE + k), 30) for k in range(EVENTS_PER_ENVELOPE)))
            for n in range(MAX_ENVELOPES)]
        platform.token()  # the admin client is created (written) while there is room
        fill(ballast)
        os.truncate(ballast, ballast.stat().st_size - ROOM_BYTES)  # room for a few sends
        acknowledged: list[int] = []
        refused: list[int] = []
        statuses: set[int] = set()
        with platform.http() as client:  # the append is the acknowledgement: no job waits
            replies = (client.post("/caliper/event", json=envelope) for envelope in envelopes)
            for index, reply in enumerate(replies):
                statuses.add(reply.status_code)
                (acknowledged if reply.status_code == 200 else refused).append(index)
                if len(refused) == REFUSALS_WANTED:
                    break
        assert len(refused) == REFUSALS_WANTED, "the disk never filled up"
        assert acknowledged, "nothing fitted in the room left"
        # a bare 500 today; 503 with Retry-After once the store-outage handling lands
        assert statuses <= {200, 500, 503}, statuses
        sent = acknowledged + refused

        ballast.unlink()  # space is freed; the same server process goes on
        assert platform.get("/healthz") == {"status": "ok"}
        for index in refused:
            assert platform.send(envelopes[index]).status_code == 200, index

        def expected_ids() -> set[str]:
            return {event["id"] for index in sent for event in envelopes[index]["data"]}

        stored = stored_event_ids(platform, email)
        assert len(stored) == len(sent) * EVENTS_PER_ENVELOPE
        assert set(stored) == expected_ids()
        platform.stop()
        platform.start()  # and it is all on disk
        stored = stored_event_ids(platform, email)
        assert len(stored) == len(sent) * EVENTS_PER_ENVELOPE
        assert set(stored) == expected_ids()
        run = platform.get(f"/api/v1/runs/{run_id}", consistent="true")
        assert run["heartbeats"] == len(sent) * EVENTS_PER_ENVELOPE
    finally:
        platform.stop()
