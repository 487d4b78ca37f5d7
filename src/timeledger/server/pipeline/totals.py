"""Running totals per learner and per learner × course, so list pages read one row per learner.

Sums come from the batch's counted events; what is new (a run, a learner day) is found before the
batch writes its rows (`novelty_of`), so each is counted once however the log is cut into batches.
The log is cut by learner, so no other projector writes these rows meanwhile.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from timeledger.server.pipeline.days import DAY_COUNTERS, DayRows
from timeledger.server.pipeline.flags import LEARNING_KINDS
from timeledger.server.pipeline.prepared import Prepared
from timeledger.server.pipeline.upserts import PendingUpsert, Row
from timeledger.server.store.projection_tables import (
    completions,
    learner_course_totals,
    learner_days,
    learner_totals,
    runs,
)

_SUMS = DAY_COUNTERS  # a learner's totals are the sums of their learner days
ACCURACY_SLOTS = ("accuracy_1", "accuracy_2", "accuracy_3", "accuracy_4", "accuracy_5")


@dataclass(frozen=True, slots=True)
class Novelty:
    """What the batch adds that the store did not hold before it."""

    runs: dict[str, tuple[str, str]]  # run id -> (learner, course)
    learner_dates: frozenset[tuple[str, str]]  # (learner, local date)
    course_dates: frozenset[tuple[str, str, str]]  # (learner, course, local date)


@dataclass(frozen=True, slots=True)
class StoredKeys:
    """Which of a batch's runs and learner days the store held before the batch."""

    runs: frozenset[str]
    learner_dates: frozenset[tuple[str, str]]  # (learner, local date)
    course_dates: frozenset[tuple[str, str, str]]  # (learner, course, local date)


_STORED_RUNS = sa.select(runs.c.run_id).where(
    runs.c.run_id.in_(sa.bindparam("runs", expanding=True)))
_d = learner_days.c
_STORED_DAYS = sa.select(_d.learner_email, _d.course_id, _d.local_date).where(
    sa.tuple_(_d.learner_email, _d.local_date).in_(sa.bindparam("dates", expanding=True)))


def stored_keys(conn: sa.Connection, items: Sequence[Prepared],
                days: Collection[tuple[str, str, str]]) -> StoredKeys:
    """Read before the batch writes runs and learner days (on SQLite, before the write lock);
    `items` may be all of the batch's events, counted or not, and `days` the keys of their
    learner days (`day_rows`)."""
    run_ids = sorted({item.run_id for item in items if item.run_id is not None})
    stored_runs: frozenset[str] = frozenset()
    if run_ids:
        stored_runs = frozenset(conn.execute(_STORED_RUNS, {"runs": run_ids}).scalars())
    stored_course_dates: set[tuple[str, str, str]] = set()
    if days:
        dates = sorted({(email, day) for email, _course, day in days})
        stored_course_dates.update(map(tuple, conn.execute(_STORED_DAYS, {"dates": dates})))
    return StoredKeys(stored_runs,
                      frozenset({(email, day) for email, _course, day in stored_course_dates}),
                      frozenset(stored_course_dates))


def novelty_of(stored: StoredKeys, counted: Sequence[Prepared], days: DayRows) -> Novelty:
    """What the counted events (whose learner days are `days`) add, against `stored_keys` read
    before the batch wrote."""
    batch_runs: dict[str, tuple[str, str]] = {}
    for item in counted:
        if item.run_id is not None and item.run_id not in batch_runs:
            batch_runs[item.run_id] = (item.facts.learner_email, item.facts.course_id)
    day_keys = set(days.days)
    return Novelty(
        runs={run_id: who for run_id, who in batch_runs.items() if run_id not in stored.runs},
        learner_dates=frozenset({(e, day) for e, _c, day in day_keys} - stored.learner_dates),
        course_dates=frozenset(day_keys - stored.course_dates))


def per_mille(correct: int, total: int) -> int:
    return round(correct * 1000 / total)


class TotalsUpsert:
    """What the batch adds to its learners' totals, but for the flags it raises: the sums of its
    learner days (from the counted events), the days and runs it makes new, and the learners
    whose accuracy slots it moves; made before the writes (on SQLite, before the write lock),
    written by `run`."""

    __slots__ = ("_accuracy_learners", "_courses", "_people", "_people_upsert")

    def __init__(self, conn: sa.Connection, counted: Sequence[Prepared], days: DayRows,
                 novelty: Novelty) -> None:
        people: dict[str, Row] = {}
        courses: dict[tuple[str, str], Row] = {}
        for day in days.days.values():
            email = day["learner_email"]
            for row in (_person(people, email), _course(courses, email, day["course_id"])):
                for name in _SUMS:
                    row[name] += day[name]
        for email, _day in novelty.learner_dates:
            _person(people, email)["days_active"] += 1
        for email, course_id, _day in novelty.course_dates:
            _course(courses, email, course_id)["days_active"] += 1
        for email, course_id in novelty.runs.values():
            _person(people, email)["runs"] += 1
            _course(courses, email, course_id)["runs"] += 1
        self._people = people
        self._people_upsert = _people_upsert(conn, people)
        self._courses = PendingUpsert(conn, learner_course_totals, courses.values(),
                                      ["learner_email", "course_id"],
                                      add=[*_SUMS, "days_active", "runs"])
        #: Learners with a new completion with questions (`_record_accuracy`).
        self._accuracy_learners = sorted({
            item.facts.learner_email for item in counted if not item.is_time
            and item.facts.total_questions and item.facts.correct_questions is not None})

    def run(self, conn: sa.Connection, new_flags: Mapping[tuple[str, str], int]) -> None:
        """Add the batch to its learners' totals, and `new_flags`: the stored flags added (or,
        negative, removed) per learner and kind by this batch."""
        people_upsert = self._people_upsert
        if new_flags:
            people = {email: dict(row) for email, row in self._people.items()}
            for (email, kind), change in sorted(new_flags.items()):
                person = _person(people, email)
                person["flags"] += change
                if kind in LEARNING_KINDS:
                    person["learning_flags"] += change
            people_upsert = _people_upsert(conn, people)
        people_upsert.run(conn)
        self._courses.run(conn)
        _record_accuracy(conn, self._accuracy_learners)


def _person(people: dict[str, Row], email: str) -> Row:
    row = people.get(email)
    if row is None:
        row = people[email] = {"learner_email": email, **dict.fromkeys(_SUMS, 0),
                               "days_active": 0, "runs": 0, "flags": 0, "learning_flags": 0}
    return row


def _course(courses: dict[tuple[str, str], Row], email: str, course_id: str) -> Row:
    key = (email, course_id)
    row = courses.get(key)
    if row is None:
        row = courses[key] = {"learner_email": email, "course_id": course_id,
                              **dict.fromkeys(_SUMS, 0), "days_active": 0, "runs": 0}
    return row


def _people_upsert(conn: sa.Connection, people: Mapping[str, Row]) -> PendingUpsert:
    return PendingUpsert(conn, learner_totals, people.values(), ["learner_email"],
                         add=[*_SUMS, "days_active", "runs", "flags", "learning_flags"])


def _record_accuracy(conn: sa.Connection, learners: Sequence[str]) -> None:
    """Each of `learners` (with a new completion with questions): their five latest such
    completions by eventTime (then event id), read back from `completions` by its learner index.
    Read, not shifted in, so the slots depend neither on where batches end nor on the order
    concurrent sends happened to commit in."""
    if not learners:
        return
    updates: list[dict[str, Any]] = []
    for email in learners:
        newest = conn.execute(_NEWEST_WITH_QUESTIONS, {"email": email}).all()
        slots: dict[str, Any] = {f"b_{slot}": None for slot in ACCURACY_SLOTS}
        slots.update({f"b_{slot}": per_mille(row.correct_questions, row.total_questions)
                      for slot, row in zip(ACCURACY_SLOTS, newest, strict=False)})
        updates.append({"b_email": email, **slots,
                        "b_accuracy_event_id": newest[0].event_id if newest else None})
    conn.execute(_SET_ACCURACY, updates)


_c = completions.c
# A learner's latest completions with questions, by its (learner_email, event_time) index.
_NEWEST_WITH_QUESTIONS = (
    sa.select(_c.correct_questions, _c.total_questions, _c.event_id)
    .where(_c.learner_email == sa.bindparam("email", type_=_c.learner_email.type),
           _c.total_questions > 0, _c.correct_questions.isnot(None))
    .order_by(_c.event_time.desc(), _c.event_id.desc()).limit(len(ACCURACY_SLOTS)))
_SET_ACCURACY = (
    learner_totals.update()
    .where(learner_totals.c.learner_email == sa.bindparam("b_email"))
    .values({name: sa.bindparam(f"b_{name}", type_=learner_totals.c[name].type)
             for name in (*ACCURACY_SLOTS, "accuracy_event_id")}))
