"""The server processes' collector pace: one request's live objects trigger no collection."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from timeledger.server.collector_pace import GEN0_THRESHOLD, pace_collector_for_serving

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast

ENVELOPE_OBJECTS = 40_000  # about what one decoded 100-event envelope holds: dicts and lists


@pytest.fixture
def default_pace() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's default
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _collections_while_holding(count: int) -> int:
    collections = 0

    def count_starts(phase: str, info: dict[str, Any]) -> None:
        nonlocal collections
        collections += phase == "start"

    gc.collect()
    gc.callbacks.append(count_starts)
    try:
        held = [{"n": n} for n in range(count)]
    finally:
        gc.callbacks.remove(count_starts)
    assert len(held) == count
    return collections


def test_the_pace_is_set_for_the_youngest_generation_only(default_pace: None) -> None:
    pace_collector_for_serving()
    assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10)


def test_an_envelopes_live_objects_trigger_no_collection(default_pace: None) -> None:
    assert _collections_while_holding(ENVELOPE_OBJECTS) >= ENVELOPE_OBJECTS // 700 - 1
    pace_collector_for_serving()
    assert _collections_while_holding(ENVELOPE_OBJECTS) == 0
