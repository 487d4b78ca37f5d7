"""Token lookups on the event loop (store/nowait_reads.py): the same answer as through the engine,
revocation seen at once, and a store that would make the read wait refused at once."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from tests.support.token_reads import issued_client, issued_token
from timeledger.server.store.credentials import CredentialStore
from timeledger.server.store.nowait_reads import StoreBusy

pytestmark = pytest.mark.backends("sqlite")  # PostgreSQL: test_loop_reads.py

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_the_loop_side_lookup_answers_as_the_engine_does(backend: object,
                                                          credentials: CredentialStore) -> None:
    token = issued_token(credentials, NOW)
    assert credentials.reads_without_waiting
    found = credentials.lookup_token_nowait(token, NOW)
    assert found is not None
    assert found == credentials.lookup_token(token, NOW)
    assert found.scopes == ("events:write",)
    assert found.expires_at.tzinfo is not None
    assert credentials.lookup_token_nowait(token + "x", NOW) is None


def test_an_expired_token_is_refused_at_its_expiry(backend: object,
                                                    credentials: CredentialStore) -> None:
    token = issued_token(credentials, NOW)
    found = credentials.lookup_token_nowait(token, NOW)
    assert found is not None
    just_before = found.expires_at - timedelta(microseconds=1)
    assert credentials.lookup_token_nowait(token, just_before) == found
    assert credentials.lookup_token_nowait(token, found.expires_at) is None
    assert credentials.lookup_token(token, found.expires_at) is None


def test_a_revoked_clients_token_is_refused_on_the_next_read(backend: object,
                                                               credentials: CredentialStore
                                                               ) -> None:
    client_id, token = issued_client(credentials, NOW)
    assert credentials.lookup_token_nowait(token, NOW) is not None  # connection is open
    assert credentials.revoke(client_id, NOW)
    assert credentials.lookup_token_nowait(token, NOW) is None


def test_a_store_that_would_make_the_read_wait_is_refused_at_once(backend: object,
                                                                  engine: Engine,
                                                                  credentials: CredentialStore
                                                                  ) -> None:
    token = issued_token(credentials, NOW)
    assert engine.url.database
    engine.dispose()  # an exclusive lock needs every other connection closed
    credentials.close()  # the reader opens its connection again on its next read
    holder = sqlite3.connect(engine.url.database, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        began = time.monotonic()
        with pytest.raises(StoreBusy):
            credentials.lookup_token_nowait(token, NOW)
        assert time.monotonic() - began < 1.0  # no busy wait (the engine's would be 30 s)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert credentials.lookup_token_nowait(token, NOW) is not None
