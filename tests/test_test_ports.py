"""The test servers' ports: each pytest-xdist worker has its own block; ports in use are skipped."""

from __future__ import annotations

import socket

import pytest

from tests.support.platform import TEST_PORTS, PortBlock

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast


def test_each_worker_has_a_block_of_its_own_below_the_ephemeral_ports() -> None:
    blocks = [PortBlock.of_worker({"PYTEST_XDIST_WORKER": f"gw{n}",
                                   "PYTEST_XDIST_WORKER_COUNT": "3"}).ports for n in range(3)]
    assert [(b.start, b.stop) for b in blocks] == [(20000, 24256), (24256, 28512), (28512, 32768)]
    assert PortBlock.of_worker({}).ports == TEST_PORTS  # one process: the whole range


def test_a_port_in_use_is_skipped() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        block = PortBlock(range(taken, taken + 3))
        held.listen()
        first = block.next_free()
    assert first in (taken + 1, taken + 2)  # the next may be in use too


def test_a_block_with_no_free_port_says_so() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        held.listen()
        with pytest.raises(RuntimeError, match="no free port"):
            PortBlock(range(taken, taken + 1)).next_free()
