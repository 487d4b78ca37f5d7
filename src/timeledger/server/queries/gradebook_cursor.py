"""The gradebook's page cursor: where the last page stopped (queries/page_cursor.py packs it).

Projected results are paged by their key (learner, course, activity, attempt), then written
results by their sourcedId; the cursor names the last result listed."""

from __future__ import annotations

from dataclasses import dataclass

from timeledger.server.queries.page_cursor import MAX_CURSOR_CHARS, not_a_cursor, pack, unpack

__all__ = ["MAX_CURSOR_CHARS", "Cursor", "ProjectedAfter", "WrittenAfter", "decode_cursor",
           "encode_cursor"]


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
    return pack(["c", cursor.learner, cursor.course_id, cursor.activity_id, cursor.attempt]
                if isinstance(cursor, ProjectedAfter) else ["w", cursor.sourced_id])


def decode_cursor(name: str, text: str) -> Cursor:
    """The cursor a page handed out as its `next`; anything else is an error naming `name`."""
    match unpack(name, text):
        case ["c", str(learner), str(course_id), str(activity_id), int(attempt)] \
                if not isinstance(attempt, bool):
            return ProjectedAfter(learner, course_id, activity_id, attempt)
        case ["w", str(sourced_id)]:
            return WrittenAfter(sourced_id)
    raise not_a_cursor(name)
