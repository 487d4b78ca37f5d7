"""A run's own lists are bounded: `GET /api/v1/runs/{id}` holds the first page of its windows,
session days and flags with `windows_next`, `session_days_next`, `flags_next`, and
`GET /api/v1/runs/{id}/windows`, `/session-days` and `/flags` page through each by key (`limit`,
`after`), every item once and in order; past a bound a 400 names `limit` or `after`, an unknown
run is a 404."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from tests.support.events import SENSOR, completion, heartbeat, wrap
from tests.support.platform import PlatformProcess
from timeledger.caliper.builders import run_ref
from timeledger.server.queries import MAX_RUN_DAYS, MAX_RUN_FLAGS, MAX_RUN_WINDOWS

if TYPE_CHECKING:
    from tests.support.postgres import Backend

T0 = datetime(2025, 4, 7, 12, 0, tzinfo=UTC)
#: sub-route -> (the list in its answer and in the run object, what names an item, most limit)
LISTS: dict[str, tuple[str, str, int]] = {
    "windows": ("windows", "event_id", MAX_RUN_WINDOWS),
    "session-days": ("session_days", "date", MAX_RUN_DAYS),
    "flags": ("flags", "key", MAX_RUN_FLAGS),
}


class Seeded:
    """The run as the test wrote it."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.run_id = run_ref(key, SENSOR).id
        self.windows: list[str] = []  # event ids in start order, ties in the order sent
        self.days: list[str] = []
        self.low_accuracy: set[str] = set()  # completion event ids under 80 %
        self.other_run = str(uuid.uuid4())


@pytest.fixture(scope="module")
def seeded(backend: Backend, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[PlatformProcess, Seeded]]:
    """One run named by a key: 5 windows on 3 days (sent out of start order; two start at one
    moment, one of them reported, the other estimated), 3 low-accuracy completions (6 flags:
    3 low_accuracy, 2 second_completion, 1 overlapping_windows); another run with two windows on
    two days."""
    folder = tmp_path_factory.mktemp("run-pages")
    with PlatformProcess(folder, db_url=backend.new_db_url()) as platform:
        seed = Seeded(f"lesson-{uuid.uuid4().hex[:8]}")
        email = f"runpages-{uuid.uuid4().hex[:6]}@example.edu"
        starts = [T0 + timedelta(days=2), T0, T0 + timedelta(days=1), T0,
                  T0 + timedelta(hours=1)]  # the order sent, so seq order is not start order
        sent = [heartbeat(email, seed.run_id, start, 60 + n, run_key=seed.key)
                for n, start in enumerate(starts)]
        for item in sent[3]["generated"]["items"]:  # estimated: its start is eventTime - 63 s
            del item["startDate"], item["endDate"]
        order = sorted(range(len(starts)), key=lambda n: (starts[n], n))
        seed.windows = [sent[n]["id"] for n in order]
        seed.days = sorted({start.date().isoformat() for start in starts})
        done = [completion(email, seed.run_id, T0 + timedelta(days=2, hours=1, minutes=n), 1,
                           10, 5, attempt=n + 1, run_key=seed.key) for n in range(3)]
        seed.low_accuracy = {event["id"] for event in done}
        other = [heartbeat(email, seed.other_run, T0 + timedelta(days=n), 30) for n in range(2)]
        assert platform.send(wrap(*sent, *done, *other)).status_code == 200
        yield platform, seed


def pages(platform: PlatformProcess, path: str, **params: Any) -> list[dict[str, Any]]:
    found = [platform.get(path, **params)]
    while found[-1]["next"] is not None:
        assert len(found) < 20, "the cursor does not move on"
        found.append(platform.get(path, **params, after=found[-1]["next"]))
    return found


def refused(platform: PlatformProcess, path: str, status: int = 400, **params: Any) -> Any:
    with platform.http() as client:
        reply = client.get(path, params=params)
    assert reply.status_code == status, (path, params, reply.text)
    return reply.json()


def expected(seed: Seeded, sub: str, platform: PlatformProcess) -> list[str]:
    if sub == "windows":
        return seed.windows
    if sub == "session-days":
        return seed.days
    # flags: the flags list's own order, read whole from GET /api/v1/flags
    return [flag["key"] for flag in platform.get("/api/v1/flags", run=seed.run_id)["flags"]]


@pytest.mark.parametrize("sub", sorted(LISTS))
@pytest.mark.parametrize("by", ["uuid", "key"])
def test_pages_give_every_item_once_in_order(seeded: tuple[PlatformProcess, Seeded], sub: str,
                                             by: str) -> None:
    platform, seed = seeded
    name, field, _most = LISTS[sub]
    run = seed.run_id if by == "uuid" else quote(seed.key, safe="")
    whole = expected(seed, sub, platform)
    assert len(whole) == {"windows": 5, "session-days": 3, "flags": 6}[sub]
    found = pages(platform, f"/api/v1/runs/{run}/{sub}", limit=2)
    assert [item[field] for page in found for item in page[name]] == whole
    assert [len(page[name]) for page in found] == (
        [2] * (len(whole) // 2) + ([len(whole) % 2] if len(whole) % 2 else []))
    assert all("projected_through" in page for page in found)
    if sub == "flags":
        assert {event for page in found for flag in page["flags"] for event in flag["event_ids"]
                if flag["kind"] == "low_accuracy"} == seed.low_accuracy
        assert {flag["run_id"] for page in found for flag in page["flags"]} == {seed.run_id}


def test_the_run_object_holds_each_whole_list_and_no_cursor(
        seeded: tuple[PlatformProcess, Seeded]) -> None:
    platform, seed = seeded
    run = platform.get(f"/api/v1/runs/{seed.key}")
    assert run["run_id"] == seed.run_id
    assert [w["event_id"] for w in run["windows"]] == seed.windows
    assert [d["date"] for d in run["session_days"]] == seed.days
    assert run["sessions"] == len(seed.days)
    assert [f["key"] for f in run["flags"]] == expected(seed, "flags", platform)
    assert (run["windows_next"], run["session_days_next"], run["flags_next"]) == (None,) * 3
    other = platform.get(f"/api/v1/runs/{seed.other_run}")
    assert len(other["windows"]) == 2 and other["flags"] == []
    assert platform.get(f"/api/v1/runs/{seed.other_run}/flags") == {
        "flags": [], "next": None, "projected_through": other["projected_through"]}


@pytest.mark.parametrize("sub", sorted(LISTS))
def test_limit_and_cursor_past_their_bounds_are_400s(seeded: tuple[PlatformProcess, Seeded],
                                                     sub: str) -> None:
    platform, seed = seeded
    name, _field, most = LISTS[sub]
    path = f"/api/v1/runs/{seed.run_id}/{sub}"
    assert platform.get(path, limit=most)["next"] is None
    for params in ({"limit": most + 1}, {"limit": 0}, {"after": "not a cursor"},
                   {"after": "A" * 5000}):
        (param,) = params
        assert refused(platform, path, **params)["imsx_error_details"][0]["path"] == param
    forged = base64.urlsafe_b64encode(json.dumps(
        {"windows": ["run_windows", "yesterday", 1], "session-days": ["run_days", "13/04/2025"],
         "flags": ["flags", "1", "k"]}[sub]).encode()).decode()
    assert refused(platform, path, after=forged)["imsx_error_details"][0]["path"] == "after"
    for other in LISTS:  # another list's cursor is not one of this list's
        if other != sub:
            cursor = platform.get(f"/api/v1/runs/{seed.run_id}/{other}", limit=1)["next"]
            assert refused(platform, path, after=cursor)["imsx_error_details"][0]["path"] \
                == "after", other
    assert name in platform.get(path, limit=1)


@pytest.mark.parametrize("sub", ["windows", "session-days"])
def test_a_cursor_of_another_run_is_refused(seeded: tuple[PlatformProcess, Seeded],
                                            sub: str) -> None:
    """A window's or a day's cursor holds its run: another run's page would start at a position
    that means nothing in this run's list."""
    platform, seed = seeded
    name, _field, _most = LISTS[sub]
    theirs = platform.get(f"/api/v1/runs/{seed.other_run}/{sub}", limit=1)
    assert len(theirs[name]) == 1 and theirs["next"] is not None
    path = f"/api/v1/runs/{seed.run_id}/{sub}"
    assert refused(platform, path, after=theirs["next"])["imsx_error_details"][0]["path"] \
        == "after"
    rest = platform.get(f"/api/v1/runs/{seed.other_run}/{sub}", after=theirs["next"])
    assert len(rest[name]) == 1 and rest["next"] is None


@pytest.mark.parametrize("sub", sorted(LISTS))
def test_an_unknown_run_is_a_404(seeded: tuple[PlatformProcess, Seeded], sub: str) -> None:
    platform, _seed = seeded
    for unknown in (str(uuid.uuid4()), "no-such-run-key"):
        refused(platform, f"/api/v1/runs/{unknown}/{sub}", status=404)
        refused(platform, f"/api/v1/runs/{unknown}", status=404)
