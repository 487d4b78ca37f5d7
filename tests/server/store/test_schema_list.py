"""The schema is one explicit list in store/: no table is defined anywhere else, none is missed."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import timeledger.server as server
from timeledger.server.store.tables import ALL_TABLES, metadata

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast


def test_every_table_the_server_defines_is_in_the_one_list() -> None:
    # The walk belongs here, not in the store: it proves nobody added a table outside the list.
    for module in pkgutil.walk_packages(server.__path__, prefix="timeledger.server."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    listed = [table.name for table in ALL_TABLES]
    assert len(listed) == len(set(listed))
    assert sorted(metadata.tables) == sorted(listed)
