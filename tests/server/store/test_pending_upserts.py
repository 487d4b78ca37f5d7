"""The projector's upserts (pipeline/upserts.py's PendingUpsert) combine stored and new rows
column by column on both backends; on PostgreSQL the projector's shapes run as one statement
over column arrays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from timeledger.server.pipeline.upserts import PendingUpsert, _unnest_sql, upsert
from timeledger.server.store.migrate import upgrade
from timeledger.server.store.projection_tables import learner_days, learners

NINE = datetime(2025, 3, 3, 9, tzinfo=UTC)


def _day(email: str, active_ms: int, inactive_ms: int) -> dict[str, Any]:
    return {"learner_email": email, "course_id": "math", "local_date": "2025-03-03",
            "active_ms": active_ms, "inactive_ms": inactive_ms}


def _person(email: str, name: str | None, seen: datetime) -> dict[str, Any]:
    return {"email": email, "name": name, "first_actor_id": f"https://sis.example.edu/{email}",
            "first_seen": seen, "last_seen": seen}


def _add_days(conn: sa.Connection, rows: list[dict[str, Any]]) -> list[Any]:
    return PendingUpsert(conn, learner_days, rows, ["learner_email", "course_id", "local_date"],
                         add=["active_ms", "inactive_ms"],
                         returning=["learner_email", "active_ms", "inactive_ms"]).run(conn)


def test_an_upsert_adds_to_stored_rows_and_returns_each_row_as_stored(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        first = _add_days(conn, [_day("b@example.edu", 1_000, 0), _day("a@example.edu", 2, 3)])
    with engine.begin() as conn:
        second = _add_days(conn, [_day("a@example.edu", 10, 20), _day("c@example.edu", 7, 8)])
    assert sorted((row.learner_email, row.active_ms, row.inactive_ms) for row in first) == [
        ("a@example.edu", 2, 3), ("b@example.edu", 1_000, 0)]
    assert sorted((row.learner_email, row.active_ms, row.inactive_ms) for row in second) == [
        ("a@example.edu", 12, 23), ("c@example.edu", 7, 8)]
    with engine.connect() as conn:
        stored = conn.execute(sa.select(learner_days.c.learner_email, learner_days.c.active_ms)
                              .order_by(learner_days.c.learner_email)).all()
    assert [tuple(row) for row in stored] == [("a@example.edu", 12), ("b@example.edu", 1_000),
                                              ("c@example.edu", 7)]


def test_latest_least_and_greatest_keep_each_column_s_rule(engine: Engine) -> None:
    upgrade(engine)
    later = NINE + timedelta(hours=1)
    with engine.begin() as conn:
        upsert(conn, learners, [_person("a@example.edu", "Ada", later)], ["email"],
               latest=["name"], least_of=["first_seen"], greatest_of=["last_seen"])
        upsert(conn, learners, [_person("a@example.edu", None, NINE),
                                _person("b@example.edu", "Bo", NINE)], ["email"],
               latest=["name"], least_of=["first_seen"], greatest_of=["last_seen"])
    with engine.connect() as conn:
        stored = conn.execute(sa.select(learners.c.email, learners.c.name, learners.c.first_seen,
                                        learners.c.last_seen).order_by(learners.c.email)).all()
    assert [tuple(row) for row in stored] == [("a@example.edu", "Ada", NINE, later),
                                              ("b@example.edu", "Bo", NINE, NINE)]


@pytest.mark.backends("pg")
def test_the_projector_s_upserts_run_over_column_arrays_on_postgresql(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        days = PendingUpsert(conn, learner_days, [_day("a@example.edu", 1, 2)],
                             ["learner_email", "course_id", "local_date"],
                             add=["active_ms", "inactive_ms"])
        people = PendingUpsert(conn, learners, [_person("a@example.edu", "Ada", NINE)],
                               ["email"], latest=["name"], least_of=["first_seen"],
                               greatest_of=["last_seen"], returning=["email", "name"])
        shapes = ((days, learner_days, _day("a@example.edu", 1, 2),
                   ("learner_email", "course_id", "local_date", "active_ms", "inactive_ms")),
                  (people, learners, _person("a@example.edu", "Ada", NINE),
                   ("email", "name", "first_actor_id", "first_seen", "last_seen")))
        for pending, table, row, expected_columns in shapes:
            made = _unnest_sql(conn, pending._stmt, table, tuple(row))
            assert made is not None, table.name
            sql, columns = made
            assert "FROM unnest(" in sql and "VALUES" not in sql
            assert columns == expected_columns
