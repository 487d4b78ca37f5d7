"""What `Client` and `AsyncClient` answer alike without I/O: reads of their shared core."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from timeledger.caliper.builders import ActivityRef
from timeledger.config import TimebackConfig
from timeledger.sdk.core import ClientCore


class ClientSurface:
    """The synchronous members both clients share; each client sets `_core` when it opens."""

    _core: ClientCore

    @property
    def sensor(self) -> str | None:
        """The sensor IRI events are sent under (option, else the config's sensor)."""
        return self._core.sensor

    @property
    def config(self) -> TimebackConfig | None:
        """The loaded `timeback.config.json` for this client's `env`."""
        return self._core.config

    @property
    def outbox_path(self) -> str:
        return self._core.outbox.path

    def activity_ref(self, id: str, name: str, course: Mapping[str, Any]) -> ActivityRef:
        """The ActivityRef (URL, subject, course id...) events about this activity carry."""
        return self._core.activity_ref(id, name, course)[0]

    def actor(self, user: Mapping[str, Any]) -> dict[str, Any]:
        """The Caliper actor for a user (`{"email", "id"?}`), as this client's events name it."""
        return self._core.actor(user, self.sensor or "")
