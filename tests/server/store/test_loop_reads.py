"""Token lookups on the event loop on PostgreSQL (store/loop_reads.py): the same answer as through
the engine, revocation seen at once, and a lost connection, a slow read or a new loop handled."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.support.token_reads import issued_client, issued_token, loop_read_backends
from timeledger.server.store import loop_reads
from timeledger.server.store.credentials import AccessToken, CredentialStore
from timeledger.server.store.loop_reads import LoopReader
from timeledger.server.store.nowait_reads import StoreBusy

pytestmark = pytest.mark.backends("pg")  # SQLite reads on the loop without waiting

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _loop_backends_once_gone(engine: Engine, gone: list[int]) -> list[int]:
    """`loop_read_backends` once none of `gone` is listed: a closed connection's server process
    leaves pg_stat_activity when it has exited, a moment after the client closed."""
    deadline = time.monotonic() + 30
    while set(found := loop_read_backends(engine)) & set(gone):
        assert time.monotonic() < deadline, f"{gone} still connected"
    return found


def test_the_loop_side_lookup_answers_as_the_engine_does(backend: object,
                                                          credentials: CredentialStore) -> None:
    token = issued_token(credentials, NOW, ("events:write", "reports:read"))
    assert credentials.reads_on_loop
    assert not credentials.reads_without_waiting

    async def lookups() -> tuple[AccessToken | None, AccessToken | None]:
        return (await credentials.lookup_token_on_loop(token, NOW),
                await credentials.lookup_token_on_loop(token + "x", NOW))

    found, unknown = asyncio.run(lookups())
    assert unknown is None
    assert found is not None
    assert found.scopes == ("events:write", "reports:read")
    assert found.expires_at.tzinfo == UTC
    assert found == credentials.lookup_token(token, NOW)


def test_a_revoked_clients_token_is_refused_on_the_next_read(backend: object,
                                                               credentials: CredentialStore
                                                               ) -> None:
    client_id, token = issued_client(credentials, NOW)

    async def before_and_after() -> tuple[object, object]:
        before = await credentials.lookup_token_on_loop(token, NOW)  # connection open
        assert credentials.revoke(client_id, NOW)
        return before, await credentials.lookup_token_on_loop(token, NOW)

    before, after = asyncio.run(before_and_after())
    assert before is not None
    assert after is None


def test_a_lost_connection_sends_one_read_to_the_thread_path_then_reconnects(
        backend: object, engine: Engine, credentials: CredentialStore) -> None:
    token = issued_token(credentials, NOW)

    async def through_a_lost_connection() -> None:
        assert await credentials.lookup_token_on_loop(token, NOW) is not None
        [first] = loop_read_backends(engine)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                                {"pid": first}).scalar_one()
        with pytest.raises(StoreBusy):
            await credentials.lookup_token_on_loop(token, NOW)
        assert await credentials.lookup_token_on_loop(token, NOW) is not None
        assert len(_loop_backends_once_gone(engine, [first])) == 1

    asyncio.run(through_a_lost_connection())


def test_a_read_past_its_time_gives_way_and_the_next_one_answers(
        backend: object, engine: Engine, credentials: CredentialStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    issued_token(credentials, NOW)
    reader = LoopReader.for_engine(engine)
    assert reader is not None
    monkeypatch.setattr(loop_reads, "READ_TIMEOUT_S", 0.2)

    async def slow_then_quick() -> object:
        with pytest.raises(StoreBusy):
            await reader.first("SELECT pg_sleep(30)", ())
        return await reader.first("SELECT count(*) FROM access_tokens", ())

    try:
        assert asyncio.run(slow_then_quick()) == (1,)  # the one token issued
    finally:
        reader.close()


def test_each_loop_reads_through_its_own_connection_and_close_ends_them(
        backend: object, engine: Engine, credentials: CredentialStore) -> None:
    token = issued_token(credentials, NOW)

    async def lookup() -> list[int]:
        assert await credentials.lookup_token_on_loop(token, NOW) is not None
        return loop_read_backends(engine)

    [first] = asyncio.run(lookup())
    second = asyncio.run(lookup())  # a new loop: it opens its own, and the first's is closed
    [own] = set(second) - {first}
    assert _loop_backends_once_gone(engine, [first]) == [own]
    credentials.close()
    assert _loop_backends_once_gone(engine, [own]) == []


def test_sqlite_has_no_loop_reader() -> None:
    engine = sa.create_engine("sqlite://")
    try:
        assert LoopReader.for_engine(engine) is None
        store = CredentialStore(engine)
        assert not store.reads_on_loop
        with pytest.raises(RuntimeError, match="only PostgreSQL"):
            asyncio.run(store.lookup_token_on_loop("token", NOW))
    finally:
        engine.dispose()
