"""Flags: the stored ones, newest first, each with its category and its latest review.

Learning concerns are about a learner's learning and are shown to teachers and on the learner's
own pages; integration faults are about how an app reports (a runId reused, overlapping windows)
and are shown to the operator only (the Integration page), never on a learner's shared page.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal

import orjson
import sqlalchemy as sa

from timeledger.server.pipeline.flags import FLAG_KINDS, LEARNING_KINDS, XP_ABOVE_MINUTES
from timeledger.server.queries.concerns import CONCERN_KINDS
from timeledger.server.queries.errors import InvalidParameter
from timeledger.server.queries.figures import iso
from timeledger.server.queries.page_cursor import decode_key, encode_key
from timeledger.server.store.flag_reviews import flag_reviews
from timeledger.server.store.projection_tables import flags, learner_totals, learners

__all__ = ["INTEGRATION_KINDS", "LEARNING_KINDS", "MAX_FLAGS", "XP_ABOVE_MINUTES", "check_kind",
           "count_flags", "flags_page", "list_flags", "reviewable", "reviews_of"]

Category = Literal["learning", "integration"]
INTEGRATION_KINDS = tuple(kind for kind in FLAG_KINDS if kind not in LEARNING_KINDS)
MAX_FLAGS = 1000  # the most one call (one page of GET /api/v1/flags) returns, newest first


def category_of(kind: str) -> Category:
    return "learning" if kind in LEARNING_KINDS else "integration"


def check_kind(kind: str | None) -> str | None:
    if kind is None or kind == "":
        return None
    if kind not in FLAG_KINDS:
        raise InvalidParameter("kind", f"Unknown flag kind {kind!r}; expected one of: "
                               + ", ".join(FLAG_KINDS))
    return kind


def check_category(category: str | None) -> Category | None:
    if category is None or category == "":
        return None
    if category not in ("learning", "integration"):
        raise InvalidParameter("category", f"Unknown category {category!r}; expected learning "
                               "or integration")
    return "learning" if category == "learning" else "integration"


def reviews_of(conn: sa.Connection, keys: Collection[str]) -> dict[str, list[dict[str, Any]]]:
    """Each key's reviews, oldest first: [{status, note, by, at}]."""
    out: dict[str, list[dict[str, Any]]] = {}
    if not keys:
        return out
    r = flag_reviews.c
    for row in conn.execute(sa.select(flag_reviews).where(r.flag_key.in_(sorted(keys)))
                            .order_by(r.flag_key, r.review_id)):
        out.setdefault(row.flag_key, []).append({
            "status": row.status, "note": row.note, "by": row.reviewer,
            "at": iso(row.reviewed_at)})
    return out


def _kinds(kind: str | None, category: Category | None) -> Sequence[str] | None:
    if category is None:
        return None if kind is None else [kind]
    wanted = LEARNING_KINDS if category == "learning" else INTEGRATION_KINDS
    return [k for k in wanted if kind in (None, k)]


def list_flags(conn: sa.Connection, learner: str | None = None, run_id: str | None = None,
               kind: str | None = None, course: str | None = None,
               category: Category | None = None, limit: int = MAX_FLAGS,
               learners: Collection[str] | None = None,
               after: tuple[int, str] | None = None) -> list[dict[str, Any]]:
    """Flags, newest first (by the event that first raised them), at most `limit`, filtered by
    learner email (or a set of them), run id, kind, category and course (all optional).

    Each: {key, kind, category, run_id|None, learner, course_id, event_ids: [...], reason,
    occurrences, event_time, seq, review: {status, note, by, at}|None}: `event_ids` are the
    events behind the first occurrence, `occurrences` how many times the rule fired for that
    key, `seq` the event that first raised it, `review` the latest acknowledgement or
    resolution. `after`: only flags older than the one with this (seq, key), as pages go on.
    Without a learner or run, the newest `limit` of each kind are read by the
    (kind, first_seq) index and merged, so the cost does not grow with the number stored."""
    f = flags.c
    kinds = _kinds(kind, category) or FLAG_KINDS
    newest = (f.first_seq.desc(), f.flag_key.desc())

    def narrowed(query: sa.Select[Any]) -> sa.Select[Any]:
        if course is not None:
            query = query.where(f.course_id == course)
        if after is not None:
            query = query.where(sa.tuple_(f.first_seq, f.flag_key) < sa.tuple_(
                sa.literal(after[0]), sa.literal(after[1])))
        return query.order_by(*newest).limit(limit)

    if learner is None and run_id is None and learners is None:
        found = [row for one in kinds
                 for row in conn.execute(narrowed(sa.select(flags).where(f.kind == one)))]
        found.sort(key=lambda row: (row.first_seq, row.flag_key), reverse=True)
        found = found[:limit]
    else:
        query = sa.select(flags).where(f.kind.in_(kinds))
        if learner is not None:
            query = query.where(f.learner_email == learner)
        if learners is not None:
            query = query.where(f.learner_email.in_(sorted(learners)))
        if run_id is not None:
            query = query.where(f.run_id == run_id)
        found = list(conn.execute(narrowed(query)))
    reviews = reviews_of(conn, [row.flag_key for row in found])
    return [{
        "key": row.flag_key, "kind": row.kind, "category": category_of(row.kind),
        "run_id": row.run_id, "learner": row.learner_email, "course_id": row.course_id,
        "event_ids": orjson.loads(row.event_ids), "reason": row.reason,
        "occurrences": row.occurrences, "event_time": iso(row.event_time), "seq": row.first_seq,
        "review": reviews[row.flag_key][-1] if row.flag_key in reviews else None,
    } for row in found]


def flags_page(conn: sa.Connection, learner: str | None, run_id: str | None, kind: str | None,
               course: str | None, category: Category | None, limit: int,
               after: str | None = None) -> dict[str, Any]:
    """At most `limit` flags as list_flags gives them, older than the cursor `after` (the
    `next` of the previous page): {flags, next (None on the last page)}."""
    key = None
    if after is not None:
        seq, flag_key = decode_key("after", after, "flags", (int, str))
        key = (int(seq), str(flag_key))
    found = list_flags(conn, learner, run_id, kind, course, category, limit + 1, after=key)
    more = len(found) > limit
    found = found[:limit]
    return {"flags": found,
            "next": encode_key("flags", [found[-1]["seq"], found[-1]["key"]]) if more else None}


def count_flags(conn: sa.Connection, learner: str, category: Category | None = None) -> int:
    """How many flags a learner has (of one category), from their running totals."""
    t = learner_totals.c
    found = conn.execute(sa.select(t.flags, t.learning_flags)
                         .where(t.learner_email == learner)).first()
    if found is None:
        return 0
    if category is None:
        return int(found.flags)
    return int(found.learning_flags if category == "learning"
               else found.flags - found.learning_flags)


def reviewable(conn: sa.Connection, key: str) -> str | None:
    """The learner a stored flag or a learning concern is about; None if `key` names neither."""
    kind, _, rest = key.partition(":")
    if kind in CONCERN_KINDS:
        email = rest.split(":", 1)[0]
        return conn.execute(sa.select(learners.c.email).where(learners.c.email == email)
                            ).scalar_one_or_none()
    return conn.execute(sa.select(flags.c.learner_email).where(flags.c.flag_key == key)
                        ).scalar_one_or_none()
