"""Check client secrets and admin passwords so that failures cost only whoever fails.

A secret is checked by scrypt, tens of milliseconds of CPU each. Attempts from an address, or for
an account, that failed too often lately are refused (429) before any hashing. The rest hash in
a small thread pool of their own, at the lowest CPU priority, with a bounded wait list: a flood
of wrong secrets neither queues ahead of ingest in the request thread pool nor takes CPU time
from it, and when the list is full the attempt is refused (503) rather than queued without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from timeledger.server.failed_attempts import FailedAttempts, FailureLimit

T = TypeVar("T")

# Failed attempts allowed from one remote address (IPv6: one /64), over all accounts.
PER_ADDRESS = FailureLimit(failures=10, window_s=60.0)
# Failed attempts allowed for one account (client id or admin username), over all addresses.
PER_ACCOUNT = FailureLimit(failures=50, window_s=60.0)
CHECK_THREADS = 1
CHECK_NICENESS = 19  # the lowest CPU priority
MAX_WAITING_CHECKS = 16
BUSY_RETRY_AFTER_S = 1


@dataclass(frozen=True, slots=True)
class Throttled:
    """Why an attempt is refused without being checked, and when to try again."""

    retry_after_s: int
    message: str


class ChecksBusy(Exception):
    """Every check thread is busy and the wait list is full."""


def address_key(host: str | None) -> str:
    """The throttling key of a remote address: an IPv4 address, or an IPv6 address's /64."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _lowest_cpu_priority() -> None:
    """Hashing yields the CPU to every other thread (Linux sets a nice value per thread)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CHECK_NICENESS)


class SecretChecks:
    """The throttles and the thread pool every secret or password check goes through."""

    def __init__(self, now: Callable[[], float], *, per_address: FailureLimit = PER_ADDRESS,
                 per_account: FailureLimit = PER_ACCOUNT, threads: int = CHECK_THREADS,
                 max_waiting: int = MAX_WAITING_CHECKS) -> None:
        self.by_address = FailedAttempts(per_address, now)
        self.by_account = FailedAttempts(per_account, now)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="secret-checks",
                                        initializer=_lowest_cpu_priority)
        self._capacity = threads + max_waiting
        self._pending = 0

    def throttled(self, account: str, host: str | None) -> Throttled | None:
        """Whether an attempt for `account` from `host` is refused now, before any hashing."""
        by_address = self.by_address.retry_after(address_key(host))
        by_account = self.by_account.retry_after(account)
        if by_address is None and by_account is None:
            return None
        wait = max(by_address or 0, by_account or 0)
        which = "from this address" if by_address is not None else "for this account"
        return Throttled(wait, f"Too many failed attempts {which}; try again in {wait} s")

    def failed(self, account: str, host: str | None) -> None:
        self.by_address.record(address_key(host))
        self.by_account.record(account)

    async def run(self, check: Callable[[], T]) -> T:
        """`check()` in the checks' own threads; ChecksBusy when too many already wait."""
        if self._pending >= self._capacity:
            raise ChecksBusy(f"{self._pending} secret checks are running or waiting")
        self._pending += 1
        future: Future[T] = self._pool.submit(check)
        loop = asyncio.get_running_loop()
        # Counted down when the check ends, even if the request waiting for it went away.
        future.add_done_callback(lambda _f: loop.call_soon_threadsafe(self._done))
        return await asyncio.wrap_future(future)

    def _done(self) -> None:
        self._pending -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
