"""Which stored events a learner, type, run and time range select: one rule for every reader."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from timeledger.server.store.schema import events


def event_conditions(*, learner: str | None = None, event_type: str | None = None,
                     run_id: str | None = None, since: datetime | None = None,
                     until: datetime | None = None) -> list[sa.ColumnElement[bool]]:
    """`learner` is an email (any case) or an actor id; `run_id` a uuid, bare or `urn:uuid:`;
    eventTime in [since, until). Empty or None values select everything."""
    conditions: list[sa.ColumnElement[bool]] = []
    if learner:
        # An actor id is an IRI, so it has a scheme and its ':'; an email has none. One column
        # each, so a learner's page walks ix_events_learner_seq (an actor id's is not indexed).
        conditions.append(events.c.actor_id == learner if ":" in learner
                          else events.c.learner_email == learner.strip().lower())
    if event_type:
        conditions.append(events.c.type == event_type)
    if run_id:
        conditions.append(events.c.run_id == run_id.removeprefix("urn:uuid:").lower())
    if since is not None:
        conditions.append(events.c.event_time >= since)
    if until is not None:
        conditions.append(events.c.event_time < until)
    return conditions
