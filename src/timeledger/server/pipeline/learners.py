"""Learners (keyed by email, case-insensitive), their actor ids as aliases, and courses seen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.upserts import PendingUpsert, Row, changing_rows
from timeledger.server.store.projection_tables import courses, learner_aliases, learners


@dataclass(frozen=True, slots=True)
class PeopleRows:
    """What a batch writes about who and what was seen."""

    people: list[Row]
    aliases: list[Row]
    courses: list[Row]  # only those that change the stored row (courses are shared)


def people_rows(conn: sa.Connection, items: Sequence[Prepared]) -> PeopleRows:
    """Every event (resends too: they name the same people) updates who and what was seen.
    Reads the stored courses: call before the write lock (on SQLite) or in the transaction."""
    people: dict[str, Row] = {}
    aliases: dict[tuple[str, str], Row] = {}
    seen_courses: dict[str, Row] = {}
    for item in items:  # in seq order: the first event fills what is kept, the last what is latest
        f = item.facts
        at = f.event_time
        person = people.get(f.learner_email)
        if person is None:
            people[f.learner_email] = {
                "email": f.learner_email, "name": f.actor_name, "first_actor_id": f.actor_id,
                "first_seen": at, "last_seen": at}
        else:
            if f.actor_name:
                person["name"] = f.actor_name
            if at < person["first_seen"]:
                person["first_seen"] = at
            elif at > person["last_seen"]:
                person["last_seen"] = at
        alias = aliases.get((f.actor_id, f.learner_email))
        if alias is None:
            aliases[(f.actor_id, f.learner_email)] = {
                "actor_id": f.actor_id, "learner_email": f.learner_email, "first_seen": at}
        elif at < alias["first_seen"]:
            alias["first_seen"] = at
        course = seen_courses.get(f.course_id)
        if course is None:
            seen_courses[f.course_id] = {
                "course_id": f.course_id, "name": f.course_name, "subject": f.subject,
                "app_name": f.app_name, "first_seen": at}
        else:
            if not course["name"]:
                course["name"] = f.course_name
            if at < course["first_seen"]:
                course["first_seen"] = at
    # Every learner's events name the course: write its row only when that changes something.
    changed = changing_rows(conn, courses, seen_courses.values(), ["course_id"], keep=["name"],
                            least_of=["first_seen"])
    return PeopleRows(list(people.values()), list(aliases.values()), changed)


def people_upserts(conn: sa.Connection, rows: PeopleRows) -> tuple[PendingUpsert, ...]:
    """The upserts that write `rows`: learners, their aliases, courses."""
    return (PendingUpsert(conn, learners, rows.people, ["email"], latest=["name"],
                          least_of=["first_seen"], greatest_of=["last_seen"]),
            PendingUpsert(conn, learner_aliases, rows.aliases, ["actor_id", "learner_email"],
                          least_of=["first_seen"]),
            PendingUpsert(conn, courses, rows.courses, ["course_id"], keep=["name"],
                          least_of=["first_seen"]))
