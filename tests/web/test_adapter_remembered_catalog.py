"""The adapter remembers its catalog's answers: the same events as asking each time, the
refusals asked again, and no more than its bound kept."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.web.web_support import closing, offline_client
from timeledger import Client
from timeledger.caliper.builders import ActivityRef
from timeledger.web import WebAdapter
from timeledger.web.remembered_catalog import RememberedCatalog

pytestmark = pytest.mark.unit

LEARNER = {"email": "student@example.edu", "id": "student-123"}


class Counting:
    """The client's catalog, counting what it is asked."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.asked: list[str] = []

    def activity_ref(self, id: str, name: str, course: Mapping[str, Any]) -> ActivityRef:
        self.asked.append(f"activity {id}")
        return self.client.activity_ref(id, name, course)

    def actor(self, user: Mapping[str, Any]) -> dict[str, Any]:
        self.asked.append(f"actor {user.get('email')}")
        return self.client.actor(user)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with closing(offline_client(tmp_path / "outbox.sqlite3")) as opened:
        yield opened


def beat(minute: int, slug: str = "fractions", course: dict[str, Any] | None = None,
         run_id: str = "run-one") -> bytes:
    started = f"2025-03-03T08:{minute:02d}:00.000Z"
    return json.dumps({"id": slug, "name": slug.title(),
                       "course": course or {"subject": "Math", "grade": 3}, "runId": run_id,
                       "startedAt": started, "endedAt": started.replace(":00.000Z", ":15.000Z"),
                       "elapsedMs": 15000, "pausedMs": 0}).encode()


def test_remembered_answers_make_the_same_events_as_asking_each_time(
        client: Client, tmp_path: Path) -> None:
    remembering = WebAdapter(client)
    with closing(offline_client(tmp_path / "other.sqlite3")) as other:
        asking = WebAdapter(other)
        asking.catalog = other  # the client itself: asked every time
        bodies = [beat(0), beat(1), beat(2, "decimals", course={"subject": "Reading", "grade": 4}),
                  beat(3, course={"code": "CS-101"}), beat(4, run_id=str(uuid.UUID(int=4))),
                  beat(5)]
        for body in bodies:
            for adapter in (remembering, asking):
                assert adapter.handle("heartbeat", LEARNER, body).status == 204
        made = [{**row.event(), "generated": None} for row in client.pending()]
        expected = [{**row.event(), "generated": None} for row in other.pending()]
    assert made == expected and len(made) == len(bodies)
    assert {event["object"]["id"].rsplit("/", 1)[1] for event in made} == {"fractions",
                                                                           "decimals"}


def test_each_answer_is_asked_once_and_a_refusal_every_time(client: Client) -> None:
    counting = Counting(client)
    adapter = WebAdapter(client)
    adapter.catalog = RememberedCatalog(counting)
    for minute in range(3):
        assert adapter.handle("heartbeat", LEARNER, beat(minute)).status == 204
    assert counting.asked == ["activity fractions", f"actor {LEARNER['email']}"]
    for minute in range(3, 5):
        reply = adapter.handle("heartbeat", LEARNER, beat(minute, course={"subject": "Art",
                                                                          "grade": 9}))
        assert reply.status == 400 and reply.body is not None
        assert reply.body["error"]["details"]["field"] == "course"
    assert counting.asked.count("activity fractions") == 3  # the refused selector, twice more


def test_past_its_bound_the_oldest_answer_goes(client: Client) -> None:
    counting = Counting(client)
    catalog = RememberedCatalog(counting, size=2)
    course = {"subject": "Math", "grade": 3}
    for slug in ("a", "b", "c", "a"):
        catalog.activity_ref(slug, slug.upper(), course)
    assert counting.asked == ["activity a", "activity b", "activity c", "activity a"]
    catalog.activity_ref("c", "C", course)  # still kept
    assert len(counting.asked) == 4


def test_a_user_that_cannot_be_a_key_is_asked_each_time(client: Client) -> None:
    counting = Counting(client)
    catalog = RememberedCatalog(counting)
    user = {"email": "ada@example.edu", "roles": ["learner"]}  # a list: not hashable
    first, second = catalog.actor(user), catalog.actor(user)
    assert first == second and first["email"] == "ada@example.edu"
    assert counting.asked == ["actor ada@example.edu"] * 2
