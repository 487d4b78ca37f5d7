"""Fixtures every test may use: a shared real platform, and fresh ones where state matters."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.support.platform import NewStore, PlatformProcess, StoreLocation

if TYPE_CHECKING:
    from tests.support.postgres import Backend

# --backend, the `backend` parametrization (sqlite and pg) and the `postgres_cluster` fixture.
pytest_plugins = ("tests.support.postgres",)

# Fixtures that start a platform process, PostgreSQL or a browser: a `unit` test uses none.
_SLOW_FIXTURES = frozenset({"backend", "postgres_cluster", "platform", "make_platform",
                            "new_store", "browser", "demo", "new_url", "engine"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        slow = _SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("unit") is not None and slow:
            raise pytest.UsageError(f"{item.nodeid} is marked unit (make test-fast) but uses "
                                    f"{', '.join(sorted(slow))}")


@pytest.fixture(scope="session")
def platform(backend: Backend,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    """One platform per backend for the session; tests keep apart by their own learners, runs."""
    with PlatformProcess(tmp_path_factory.mktemp("platform"),
                         db_url=backend.new_db_url()) as running:
        yield running


@pytest.fixture
def make_platform(backend: Backend, tmp_path: Path) -> Iterator[Callable[..., PlatformProcess]]:
    """Start platforms of this test's own (stopped at the end)."""
    started: list[PlatformProcess] = []

    def make(**kwargs: object) -> PlatformProcess:
        folder = tmp_path / f"platform{len(started)}"
        if "db_url" not in kwargs:  # on pg, each platform gets a fresh database
            kwargs["db_url"] = backend.new_db_url()
        running = PlatformProcess(folder, **kwargs).start()  # type: ignore[arg-type]
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def new_store(backend: Backend, tmp_path: Path) -> NewStore:
    """Make stores of this test's own: a data dir tmp_path/name, not made (SQLite: the commands
    make it and their file in it), and on pg a fresh database, empty like a new data dir unless
    `empty=False` (then migrated already)."""

    def make(name: str, *, empty: bool = True) -> StoreLocation:
        return StoreLocation(tmp_path / name, backend.new_db_url(empty=empty))

    return make
