"""The OneRoster gradebook ids the official Timeback API gives a Caliper activity, in one place.

A line item per activity and course: `"caliper_" + sha256_hex(objectId + "_" + courseSourcedId)`,
where objectId is the activity's canonical URL (the event's `object.id`). The official SDK computes
the same id to number attempts, so the rule must match it exactly. A result per learner and attempt
on that line item gets an id derived the same way, so it is stable across rebuilds.
"""

from __future__ import annotations

import hashlib

LINE_ITEM_PREFIX = "caliper_"
RESULT_PREFIX = "caliper_result_"


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def line_item_sourced_id(activity_id: str, course_id: str) -> str:
    """The line item's sourcedId for an activity (its canonical URL) in a course (sourcedId)."""
    return LINE_ITEM_PREFIX + _sha256_hex(f"{activity_id}_{course_id}")


def result_sourced_id(line_item_id: str, learner_email: str, attempt: int) -> str:
    """A projected result's sourcedId: one per learner (lower-cased e-mail) and attempt."""
    return RESULT_PREFIX + _sha256_hex(f"{line_item_id}_{learner_email}_{attempt}")
