"""A platform with the sample roster imported and a little activity from some of its students."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.platform import PlatformProcess
from tests.support.postgres import Backend
from tests.support.roster_files import SAMPLE
from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    activity_url,
    envelope,
    time_spent_event,
)

SIS = "https://sis.demo-school.example"
SENSOR = "https://mathquest.demo-school.example"
T0 = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class RosteredLearner:
    email: str  # the learner's e-mail in events (lower-cased by the platform)
    sourced_id: str | None  # in the actor id, https://sis.../users/<id>
    class_id: str | None  # the roster class the student is in; None: not in the roster


# Who links how: by e-mail, by e-mail in another case, by the actor id alone, not at all.
LEARNERS = {
    "ada": RosteredLearner("ada.okafor@demo-school.example", "s1000", "cls-math3-maple"),
    "chloe": RosteredLearner("chloe.martins@demo-school.example", None, "cls-math3-maple"),
    "aiko": RosteredLearner("aiko.alvarez@demo-school.example", None, "cls-math3-maple"),
    "ben": RosteredLearner("ben.lindqvist@demo-school.example", "s1001", "cls-math4-maple"),
    "farid": RosteredLearner("farid.h@home.example", "s1005", "cls-math4-maple"),
    "kira": RosteredLearner("kira.alvarez@demo-school.example", None, "cls-span-cedar"),
    "outsider": RosteredLearner("outsider@elsewhere.example", None, None),
}


def activity_of(name: str) -> ActivityRef:
    return ActivityRef(url=activity_url(SENSOR, f"lesson-{name}", subject="Math", grade=3),
                       name=f"Lesson for {name}", subject="Math", app_name="MathQuest",
                       course_id=f"course-{name}", course_name=f"Math for {name}")


def send_activity(platform: PlatformProcess) -> None:
    """Five active minutes for each learner, in a course named after them."""
    events = []
    for name, learner in LEARNERS.items():
        actor = Learner(learner.email, learner.sourced_id).actor(SIS)
        events.append(time_spent_event(
            actor=actor, activity=activity_of(name), run_id=str(uuid.uuid4()), started_at=T0,
            ended_at=T0 + timedelta(minutes=5), active_ms=300_000, inactive_ms=0))
    reply = platform.send(envelope(SENSOR, events, T0 + timedelta(minutes=6)))
    assert reply.status_code == 200, reply.text


@pytest.fixture(scope="session")
def rostered(backend: Backend,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    """A platform with the sample roster and the LEARNERS' activity (shared: read only)."""
    with PlatformProcess(tmp_path_factory.mktemp("rostered"),
                         db_url=backend.new_db_url()) as running:
        running.cli("roster", "import", str(SAMPLE))
        send_activity(running)
        yield running
