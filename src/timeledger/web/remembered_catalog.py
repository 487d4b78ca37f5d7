"""The adapter's catalog with its answers remembered: every heartbeat of a lesson names the same
activity, course and learner, and working those out again was a large part of a request's cost.

Only answers are kept (a selector or a user the catalog refuses is asked again each time, and
refused again), at most `size` of each kind; past it the oldest goes. The catalog's config does
not change while the adapter runs, so a kept answer stays right.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from typing import Any, TypeVar

from timeledger.caliper.builders import ActivityRef
from timeledger.web.protocol import Catalog

DEFAULT_SIZE = 4096
Answer = TypeVar("Answer")


def _key(mapping: Mapping[str, Any]) -> tuple[tuple[str, Any], ...] | None:
    """A selector or a user as a key, or None when a value cannot be one (a list, a dict)."""
    key = tuple(sorted(mapping.items()))
    try:
        hash(key)
    except TypeError:
        return None
    return key


class RememberedCatalog:
    """A `Catalog` in front of another, keeping its answers."""

    def __init__(self, catalog: Catalog, size: int = DEFAULT_SIZE) -> None:
        self.catalog = catalog
        self.size = size
        self._activities: dict[Hashable, ActivityRef] = {}
        self._actors: dict[Hashable, dict[str, Any]] = {}
        self._lock = threading.Lock()  # the sync adapter answers on several threads

    def activity_ref(self, id: str, name: str, course: Mapping[str, Any]) -> ActivityRef:
        selector = _key(course)
        key = None if selector is None else (id, name, selector)
        found = None if key is None else self._activities.get(key)
        if found is None:
            found = self.catalog.activity_ref(id, name, course)
            if key is not None:
                self._keep(self._activities, key, found)
        return found

    def actor(self, user: Mapping[str, Any]) -> dict[str, Any]:
        """The actor (the same dict for the same user: events copy it, nobody changes it)."""
        key = _key(user)
        found = None if key is None else self._actors.get(key)
        if found is None:
            found = self.catalog.actor(user)
            if key is not None:
                self._keep(self._actors, key, found)
        return found

    def _keep(self, answers: dict[Hashable, Answer], key: Hashable, answer: Answer) -> None:
        with self._lock:
            if len(answers) >= self.size:
                answers.pop(next(iter(answers)), None)
            answers[key] = answer
