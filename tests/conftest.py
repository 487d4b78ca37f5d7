"""Fixtures every test may use: a shared real platform, and fresh ones where state matters."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.platform import PlatformProcess

if TYPE_CHECKING:
    from support.postgres import Backend

# --backend, the `backend` parametrization (sqlite and pg) and the `postgres_cluster` fixture.
pytest_plugins = ("support.postgres",)


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
