"""Point reads an async request makes on its event loop on PostgreSQL: one asynchronous connection
per loop, so a bearer token's check is one round trip and no thread hop.

Through a worker thread, checking a token on PostgreSQL cost the API process 2.4–2.9 ms of CPU per
request, where the whole request costs 0.9 ms on SQLite (`serve --bench-baseline`'s no-op POST):
the hop to a worker thread and back, with the GIL changing hands about 190 times a request (futex
calls, strace), SQLAlchemy's checkout with its pre-ping, BEGIN and ROLLBACK (four round trips),
and its statement and result processing. Here the read is one prepared statement in autocommit
on a connection the loop owns. The connection opens on first use, again after any failure, and
again on another loop or thread (each has its own; a server has one). A read that fails or takes
longer than READ_TIMEOUT_S raises `StoreBusy`, and the caller asks again through a worker thread,
where the engine's pool decides as before (an outage there answers 503).
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any, LiteralString

from sqlalchemy.engine import Engine

from timeledger.server.store.nowait_reads import StoreBusy

if TYPE_CHECKING:
    from psycopg import AsyncConnection

READ_TIMEOUT_S = 10.0
"""A loop-side read (connecting included) that takes longer is given up for the thread path."""
CONNECT_TIMEOUT_S = 5
"""libpq's connect_timeout for the loop's connection."""
APPLICATION_NAME = "timeledger-loop-reads"
"""How the connection names itself in pg_stat_activity."""


class _LoopConnection:
    """A thread's event loop, its lock, and the connection it reads through."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lock = asyncio.Lock()
        self.connection: AsyncConnection[tuple[Any, ...]] | None = None


class LoopReader:
    """Connections to the engine's PostgreSQL database, one per thread's event loop."""

    @classmethod
    def for_engine(cls, engine: Engine) -> LoopReader | None:
        """A reader for a PostgreSQL engine; None for SQLite."""
        if engine.dialect.name != "postgresql":
            return None
        return cls(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._local = threading.local()
        self._open_lock = threading.Lock()
        self._open: set[AsyncConnection[tuple[Any, ...]]] = set()

    async def first(self, sql: LiteralString, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row of a query (meant for a primary-key read); raises `StoreBusy`."""
        import psycopg  # here: psycopg is the [postgres] extra

        slot = self._slot(asyncio.get_running_loop())
        async with slot.lock:
            try:
                async with asyncio.timeout(READ_TIMEOUT_S):
                    connection = slot.connection
                    if connection is None or connection.closed:  # closed by close()
                        connection = await self._connect(slot)
                    cursor = await connection.execute(sql, params, prepare=True)
                    return await cursor.fetchone()
            except (psycopg.Error, TimeoutError) as exc:
                self._discard(slot)
                raise StoreBusy(str(exc).strip() or type(exc).__name__) from exc
            except BaseException:  # cancelled mid-read: the connection's state is unknown
                self._discard(slot)
                raise

    def close(self) -> None:
        """Close every connection; a later read opens its loop's again."""
        with self._open_lock:
            connections, self._open = self._open, set()
        for connection in connections:
            connection.pgconn.finish()

    def _slot(self, loop: asyncio.AbstractEventLoop) -> _LoopConnection:
        slot: _LoopConnection | None = getattr(self._local, "slot", None)
        if slot is None or slot.loop is not loop:
            if slot is not None:
                self._discard(slot)
            slot = self._local.slot = _LoopConnection(loop)
        return slot

    async def _connect(self, slot: _LoopConnection) -> AsyncConnection[tuple[Any, ...]]:
        import psycopg

        connection = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
            application_name=APPLICATION_NAME)
        with self._open_lock:
            self._open.add(connection)
        slot.connection = connection
        return connection

    def _discard(self, slot: _LoopConnection) -> None:
        connection, slot.connection = slot.connection, None
        if connection is None:
            return
        with self._open_lock:
            self._open.discard(connection)
        connection.pgconn.finish()
