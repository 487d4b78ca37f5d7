"""The gradebook's page cursor: where the last page stopped, as an opaque URL-safe string.

Projected results are paged by their key (learner, course, activity, attempt), then written
results by their sourcedId; the cursor names the last result listed."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from timeledger.server.queries.errors import InvalidParameter

MAX_CURSOR_CHARS = 4096  # longer than any cursor the gradebook hands out


@dataclass(frozen=True)
class ProjectedAfter:
    learner: str
    course_id: str
    activity_id: str
    attempt: int


@dataclass(frozen=True)
class WrittenAfter:
    sourced_id: str


Cursor = ProjectedAfter | WrittenAfter


def encode_cursor(cursor: Cursor) -> str:
    parts: list[str | int] = (
        ["c", cursor.learner, cursor.course_id, cursor.activity_id, cursor.attempt]
        if isinstance(cursor, ProjectedAfter) else ["w", cursor.sourced_id])
    text = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def decode_cursor(name: str, text: str) -> Cursor:
    """The cursor a page handed out as its `next`; anything else is an error naming `name`."""
    invalid = InvalidParameter(name, "Expected the `next` of a previous page")
    if len(text) > MAX_CURSOR_CHARS:
        raise invalid
    try:
        parts = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        raise invalid from None
    match parts:
        case ["c", str(learner), str(course_id), str(activity_id), int(attempt)] \
                if not isinstance(attempt, bool):
            return ProjectedAfter(learner, course_id, activity_id, attempt)
        case ["w", str(sourced_id)]:
            return WrittenAfter(sourced_id)
    raise invalid
