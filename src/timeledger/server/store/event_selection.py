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
        conditions.append(sa.or_(events.c.learner_email == learner.strip().lower(),
                                 events.c.actor_id == learner))
    if event_type:
        conditions.append(events.c.type == event_type)
    if run_id:
        conditions.append(events.c.run_id == run_id.removeprefix("urn:uuid:").lower())
    if since is not None:
        conditions.append(events.c.event_time >= since)
    if until is not None:
        conditions.append(events.c.event_time < until)
    return conditions
