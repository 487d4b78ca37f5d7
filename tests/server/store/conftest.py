"""Fixtures for the store tests: an empty database (and its engine) on each backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.support.postgres import Backend
from timeledger.server.store.credentials import CredentialStore
from timeledger.server.store.database import create_engine, sqlite_url
from timeledger.server.store.migrate import ensure_schema


@pytest.fixture
def new_url(backend: Backend, tmp_path: Path) -> Callable[[], str]:
    """Make URLs of empty databases: a new SQLite file, or CREATE DATABASE on the cluster."""
    made = iter(range(1_000_000))

    def make() -> str:
        url = backend.new_db_url(empty=True)
        if url is None:
            folder = tmp_path / f"db{next(made)}"
            folder.mkdir()
            url = sqlite_url(folder)
        return url

    return make


@pytest.fixture
def engine(new_url: Callable[[], str]) -> Iterator[Engine]:
    """An engine on an empty database of this test's backend."""
    made = create_engine(new_url())
    yield made
    made.dispose()


@pytest.fixture
def credentials(engine: Engine) -> Iterator[CredentialStore]:
    """The credential store of a migrated database on this test's backend."""
    ensure_schema(engine, auto_create_empty=True)
    store = CredentialStore(engine)
    yield store
    store.close()
