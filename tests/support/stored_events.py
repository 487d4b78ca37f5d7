"""What a platform stored for a learner, read back through the event list (every page)."""

from __future__ import annotations

from typing import Any

from tests.support.platform import PlatformProcess


def stored_event_ids(platform: PlatformProcess, email: str) -> list[str]:
    """One entry per stored event row of the learner, so a duplicate would show twice."""
    found: list[str] = []
    params: dict[str, Any] = {"learner": email, "limit": 1000}
    while True:
        page = platform.get("/caliper/events", **params)
        found += [event["eventId"] for event in page["events"]]
        if page["next"] is None:
            return found
        params["before"] = page["next"]
