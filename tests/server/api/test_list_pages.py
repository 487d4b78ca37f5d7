"""Every list of the query API is bounded and paged by key: learners, courses, runs, flags and
the class view list at most `limit` rows (a documented default and maximum), `next` is the
cursor of the following page (`after`), None on the last; past a bound a 400 names `limit` or
`after`, never a silent clamp."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.events import completion, heartbeat, wrap
from tests.support.platform import PlatformProcess
from timeledger.caliper.builders import ActivityRef
from timeledger.server.queries import (
    MAX_CLASS_PAGE,
    MAX_COURSES_PAGE,
    MAX_FLAGS,
    MAX_LEARNERS_PAGE,
    MAX_RUNS_PAGE,
)

if TYPE_CHECKING:
    from tests.support.postgres import Backend

SENSOR = "https://pages.example.com"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
Key = Callable[[dict[str, Any]], Any]
#: path -> (the list in the answer, what names a row, the largest `limit`)
LISTS: dict[str, tuple[str, Key, int]] = {
    "/api/v1/learners": ("learners", lambda row: row["email"], MAX_LEARNERS_PAGE),
    "/api/v1/courses": ("courses", lambda row: row["course_id"], MAX_COURSES_PAGE),
    "/api/v1/runs": ("runs", lambda row: row["run_id"], MAX_RUNS_PAGE),
    "/api/v1/flags": ("flags", lambda row: row["key"], MAX_FLAGS),
    "/api/v1/class": ("learners", lambda row: row["email"], MAX_CLASS_PAGE),
}


def course_activity(course_id: str, slug: str) -> ActivityRef:
    return ActivityRef(url=f"{SENSOR}/activities/{course_id}/{slug}", name=slug,
                       subject="Math", app_name="Pages", course_id=course_id,
                       course_name=f"Course {course_id}")


class Seeded:
    """What the store holds, as the test wrote it."""

    def __init__(self) -> None:
        self.emails: list[str] = []
        self.courses: set[str] = set()
        self.runs: dict[str, datetime] = {}  # run id -> the end of its last event
        self.low_accuracy: set[str] = set()  # event ids of completions under 80 %


@pytest.fixture(scope="module")
def seeded(backend: Backend, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[PlatformProcess, Seeded]]:
    """A platform of its own: 5 learners in 3 courses seen in events and 2 registered (one of
    them seen too), 7 runs (two ending at the same moment), 4 low-accuracy completions."""
    folder = tmp_path_factory.mktemp("pages")
    with PlatformProcess(folder, db_url=backend.new_db_url()) as platform:
        seed = Seeded()
        config = folder / "timeback.config.json"
        config.write_text(json.dumps({"name": "Pages", "courses": [
            {"subject": "Math", "grade": grade, "ids": {"production": course_id}}
            for grade, course_id in ((3, "pg-c2"), (4, "pg-r1"))]}))
        platform.cli("courses", "load", str(config))
        seed.courses |= {"pg-c2", "pg-r1"}
        events = []
        for n in range(5):
            email = f"page-{n}-{uuid.uuid4().hex[:6]}@example.edu"
            seed.emails.append(email)
            for k in range(1 + n % 2):  # learners 1 and 3 have two runs
                course_id = f"pg-c{1 + (n + k) % 3}"
                seed.courses.add(course_id)
                run_id = str(uuid.uuid4())
                start = T0 + timedelta(hours=n if n != 4 else 3, minutes=10 * k)
                events.append(heartbeat(email, run_id, start, 60,
                                        ref=course_activity(course_id, "quiz")))
                seed.runs[run_id] = start + timedelta(seconds=60)
                if k == 0 and n < 4:
                    done = completion(email, run_id, start + timedelta(seconds=60), 3, 10, 5,
                                      ref=course_activity(course_id, "quiz"))
                    seed.low_accuracy.add(done["id"])
                    events.append(done)
        assert platform.send(wrap(*events)).status_code == 200
        yield platform, seed


def pages(platform: PlatformProcess, path: str, **params: Any) -> list[dict[str, Any]]:
    found = [platform.get(path, **params)]
    while found[-1]["next"] is not None:
        assert len(found) < 50, "the cursor does not move on"
        found.append(platform.get(path, **params, after=found[-1]["next"]))
    return found


def refused(platform: PlatformProcess, path: str, **params: Any) -> str:
    """The parameter a 400 reply names."""
    with platform.http() as client:
        reply = client.get(path, params=params)
    assert reply.status_code == 400, (path, params, reply.text)
    return str(reply.json()["imsx_error_details"][0]["path"])


def expected_order(path: str, seed: Seeded) -> list[str] | None:
    """The rows of the whole list in order, from what was written (flags: None, their keys are
    the platform's)."""
    if path in ("/api/v1/learners", "/api/v1/class"):
        return sorted(seed.emails)
    if path == "/api/v1/courses":
        return sorted(seed.courses)
    if path == "/api/v1/runs":  # most recently seen first, then by id
        return sorted(seed.runs, key=lambda run: (-seed.runs[run].timestamp(), run))
    return None


@pytest.mark.parametrize("path", sorted(LISTS))
@pytest.mark.parametrize("limit", [1, 2, 3])
def test_pages_list_every_row_once_in_order(seeded: tuple[PlatformProcess, Seeded],
                                            path: str, limit: int) -> None:
    platform, seed = seeded
    name, key, _largest = LISTS[path]
    whole = platform.get(path)
    assert whole["next"] is None  # the default page holds a small list
    assert "projected_through" in whole
    listed = [key(row) for row in whole[name]]
    order = expected_order(path, seed)
    if order is not None:
        assert listed == order
    else:
        assert {event for row in whole[name] for event in row["event_ids"]
                if row["kind"] == "low_accuracy"} == seed.low_accuracy
        assert [row["seq"] for row in whole[name]] == sorted(
            (row["seq"] for row in whole[name]), reverse=True)
    assert len(listed) > 3

    found = pages(platform, path, limit=limit)
    assert [key(row) for page in found for row in page[name]] == listed
    assert [len(page[name]) for page in found] == (
        [limit] * (len(listed) // limit) + ([len(listed) % limit] if len(listed) % limit else []))
    assert all(page["next"] is not None for page in found[:-1])
    assert all("projected_through" in page for page in found)


@pytest.mark.parametrize("path", sorted(LISTS))
def test_limit_and_cursor_past_their_bounds_are_400s(seeded: tuple[PlatformProcess, Seeded],
                                                     path: str) -> None:
    platform, _seed = seeded
    _name, _key, largest = LISTS[path]
    assert platform.get(path, limit=largest)["next"] is None  # the largest page is allowed
    assert refused(platform, path, limit=largest + 1) == "limit"
    assert refused(platform, path, limit=0) == "limit"
    assert refused(platform, path, after="not a cursor") == "after"
    assert refused(platform, path, after="A" * 5000) == "after"
    forged = base64.urlsafe_b64encode(json.dumps([path.rsplit("/", 1)[1], 1, 2]).encode())
    assert refused(platform, path, after=forged.decode()) == "after"
    real = platform.get(path, limit=1)["next"]
    parts = json.loads(base64.urlsafe_b64decode(real + "=" * (-len(real) % 4)))
    for index, part in enumerate(parts[1:], start=1):  # NUL, which PostgreSQL text cannot hold
        if isinstance(part, str):
            holding_nul = [*parts[:index], part + "\x00", *parts[index + 1:]]
            cursor = base64.urlsafe_b64encode(json.dumps(holding_nul).encode()).decode()
            assert refused(platform, path, after=cursor) == "after", holding_nul
    others = [other for other in LISTS if LISTS[other][0] != LISTS[path][0]]
    for other in others:  # a cursor of another list is not one of this list's
        cursor = platform.get(other, limit=1)["next"]
        assert refused(platform, path, after=cursor) == "after", other


def test_filtered_lists_page_too(seeded: tuple[PlatformProcess, Seeded]) -> None:
    platform, seed = seeded
    two_runs = seed.emails[1]  # learners 1 and 3 have two runs each
    runs = [run["run_id"] for page in pages(platform, "/api/v1/runs", learner=two_runs,
                                            limit=1) for run in page["runs"]]
    assert sorted(runs) == sorted(run["run_id"] for run in platform.get(
        "/api/v1/runs", learner=two_runs)["runs"])
    assert len(runs) == 2
    flagged = [flag["learner"] for page in pages(platform, "/api/v1/flags", kind="low_accuracy",
                                                 limit=1) for flag in page["flags"]]
    assert sorted(flagged) == sorted(seed.emails[:4])
    in_course = [row["email"] for page in pages(platform, "/api/v1/class", course="pg-c1",
                                                limit=1, **{"from": "2025-03-03",
                                                            "to": "2025-03-03"})
                 for row in page["learners"]]
    assert in_course == sorted(email for n, email in enumerate(seed.emails)
                               if "pg-c1" in {f"pg-c{1 + (n + k) % 3}" for k in range(1 + n % 2)})


def test_a_cursor_holds_its_place_while_rows_are_added(platform: PlatformProcess) -> None:
    """Keyset, not offset: a run seen since the first page does not push the next one along."""
    email = f"cursor-{uuid.uuid4().hex[:8]}@example.edu"
    older, old = str(uuid.uuid4()), str(uuid.uuid4())
    sent = platform.send(wrap(heartbeat(email, older, T0, 60),
                              heartbeat(email, old, T0 + timedelta(hours=1), 60)))
    assert sent.status_code == 200
    first = platform.get("/api/v1/runs", learner=email, limit=1)
    assert [run["run_id"] for run in first["runs"]] == [old]
    newest = str(uuid.uuid4())
    assert platform.send(wrap(heartbeat(email, newest, T0 + timedelta(hours=2), 60))
                         ).status_code == 200
    second = platform.get("/api/v1/runs", learner=email, limit=1, after=first["next"])
    assert [run["run_id"] for run in second["runs"]] == [older]
    assert second["next"] is None


def test_the_event_log_pages_back_by_seq(seeded: tuple[PlatformProcess, Seeded]) -> None:
    """`GET /caliper/events`: newest first, `before` (its `next`, a seq) pages back; the same
    bounds as the query API's lists."""
    platform, seed = seeded
    whole = platform.get("/caliper/events")
    sent = len(seed.runs) + len(seed.low_accuracy)  # a heartbeat per run, and the completions
    assert whole["next"] is None and len(whole["events"]) == sent
    seqs = [event["seq"] for event in whole["events"]]
    assert seqs == sorted(seqs, reverse=True)
    found = [platform.get("/caliper/events", limit=4)]
    while found[-1]["next"] is not None:
        assert len(found) < 10, "the cursor does not move on"
        found.append(platform.get("/caliper/events", limit=4, before=found[-1]["next"]))
    assert [event["seq"] for page in found for event in page["events"]] == seqs
    assert [len(page["events"]) for page in found] == [4, 4, sent - 8]
    assert refused(platform, "/caliper/events", limit=1001) == "limit"
    assert refused(platform, "/caliper/events", limit=0) == "limit"
    assert refused(platform, "/caliper/events", before="not a seq") == "before"
    assert refused(platform, "/caliper/events", before=-1) == "before"
    assert refused(platform, "/caliper/events", before=2**63) == "before"
