"""Text every store can hold: PostgreSQL's text cannot hold NUL, so a value with one is refused
where it comes in (a query parameter, a dashboard form), naming the field, instead of failing in
the store with a 500."""

from __future__ import annotations

NUL_MESSAGE = "Must not contain a NUL character"


def holds_nul(text: str) -> bool:
    return "\x00" in text
