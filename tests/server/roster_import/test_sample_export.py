"""The checked-in sample export is the one demo_roster writes, and `serve --demo` imports it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.platform import PlatformProcess
from tests.support.roster_files import SAMPLE
from timeledger.caliper.builders import ONEROSTER_USERS
from timeledger.server.demo import ROSTER_BASE
from timeledger.server.demo_roster import LEARNER_COUNT, demo_learner, write_sample_export

ROSTERING = "/ims/oneroster/rostering/v1p2"


@pytest.mark.unit
def test_the_checked_in_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    write_sample_export(tmp_path)
    written = {path.name: path.read_text() for path in tmp_path.iterdir()}
    checked_in = {path.name: path.read_text() for path in SAMPLE.iterdir()}
    assert written == checked_in  # run examples/oneroster/make_sample.py after changing it


def test_serve_demo_imports_the_roster_and_every_demo_learner_is_a_student(
        make_platform: Callable[..., PlatformProcess]) -> None:
    platform = make_platform(extra_args=["--demo"], startup_deadline=300)
    with platform.http() as client:
        reply = client.get(f"{ROSTERING}/students", params={"limit": 1000})
        assert reply.headers["X-Total-Count"] == "60"
        students = {user["sourcedId"]: user for user in reply.json()["users"]}
        learners = {row["email"]: row for row in
                    platform.get("/api/v1/learners")["learners"]}
        linked = set()
        for index in range(LEARNER_COUNT):
            who = demo_learner(index)
            assert who.id in students
            actor = ROSTER_BASE + ONEROSTER_USERS + (who.id or "")
            assert who.email in learners and actor in learners[who.email]["actor_ids"]
            roster_email = students[who.id].get("email")
            if roster_email and roster_email.lower() == who.email:
                linked.add(who.id)
        # every demo learner but s1005 (no e-mail in the roster: linked by the actor id) matches
        # by lower-cased e-mail, s1002 in other capitals
        assert set(students) - linked >= {"s1005"}
        assert len(linked) == LEARNER_COUNT - 1
        classes = [row["email"] for row in client.get(
            "/api/v1/class", params={"class": "cls-math4-maple", "consistent": "true"}
        ).json()["learners"]]
    assert demo_learner(5).email in classes  # linked by the actor id alone
