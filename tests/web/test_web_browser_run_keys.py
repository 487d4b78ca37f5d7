"""The stateful story in Chromium with the app's own runId: timeledger.js passes
"assignment-row-981" through the adapter, which sends it as its UUIDv5; the platform finds the run
by either form."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.browser import browser  # noqa: F401 (fixture)
from tests.support.platform import PlatformProcess
from tests.support.postgres import Backend
from tests.web.test_web_browser import (  # noqa: F401 (fixtures)
    MONDAY,
    WEDNESDAY,
    Lab,
    Visit,
    lab,
    open_lab,
    start_activity,
    visit,
)
from tests.web.web_support import CONFIG, stored_events

pytestmark = pytest.mark.browser

KEY = "assignment-row-981"


@pytest.fixture(scope="module")
def platform(backend: Backend,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    """A platform of this module's own: the session's shared one may hold the same key under
    another sensor (the SDK's story), and a key two apps use is ambiguous by design (a 400)."""
    with PlatformProcess(tmp_path_factory.mktemp("run-keys"),
                         db_url=backend.new_db_url()) as running:
        yield running


def test_monday_and_wednesday_with_the_apps_own_run_id_in_the_browser(
        visit: Callable[..., Visit], lab: Lab) -> None:  # noqa: F811 (fixtures)
    monday = open_lab(visit, MONDAY)
    assert start_activity(monday, runId=KEY) == KEY
    monday.run(30)
    monday.page.evaluate("window.activity.end()")  # no metrics: the run stays open
    wednesday = open_lab(lambda path, start: visit(path, start, as_email=monday.email),
                         WEDNESDAY)
    assert start_activity(wednesday, runId=KEY) == KEY
    wednesday.run(20)
    wednesday.page.evaluate(
        "window.activity.end({ xpEarned: 2, totalQuestions: 4, correctQuestions: 3 })")
    lab.delivered()

    run_uuid = str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, CONFIG["sensor"]), KEY))
    sent = {(s.route, s.status, (s.body or {}).get("runId")) for s in lab.traffic.of(KEY)}
    assert sent == {("heartbeat", 204, KEY), ("submit", 204, KEY)}
    record = lab.platform.get(f"/api/v1/runs/{KEY}")
    assert record == lab.platform.get(f"/api/v1/runs/{run_uuid}")
    assert (record["run_id"], record["run_key"]) == (run_uuid, KEY)
    assert (record["active_seconds"], record["inactive_seconds"]) == (50.0, 0.0)
    assert [(d["date"], d["active_seconds"]) for d in record["session_days"]] == [
        ("2025-01-13", 30.0), ("2025-01-15", 20.0)]
    assert (record["completions"], record["completion"]["correct_questions"]) == (1, 3)
    events = stored_events(lab.platform, monday.email)
    assert {(e["session"], e["extensions"]["runId"], e["extensions"]["runKey"])
            for e in events} == {(f"urn:uuid:{run_uuid}", run_uuid, KEY)}
    with httpx.Client(base_url=lab.platform.base_url, timeout=30) as dashboard:
        page = dashboard.get(f"/runs/{KEY}")
        assert page.status_code == 200 and f'data-run="{run_uuid}"' in page.text


@pytest.mark.parametrize(("run_id", "message"), [
    ("row\u0000981", "Expected printable characters only (no control characters such as NUL)"),
    ("x" * 257, "Expected at most 256 characters; got 257"),
    ("\U0001F600" * 257, "Expected at most 256 characters; got 257"),  # characters, not UTF-16
    ("  ", "Expected a UUID or a non-blank string"),
    (981, "Expected string"),
])
def test_a_run_id_past_the_bounds_is_refused_before_sending(
        visit: Callable[..., Visit], lab: Lab, run_id: object,  # noqa: F811 (fixtures)
        message: str) -> None:
    tab = open_lab(visit)
    thrown = tab.page.evaluate("""(runId) => {
        try {
            window.timeledger.createClient().activity.start({
                id: "lab-activity", name: "Lab activity", course: { subject: "Math", grade: 3 },
                runId });
            return null;
        } catch (error) {
            return { name: error.name, code: error.code, details: error.details };
        }
    }""", run_id)
    assert thrown == {"name": "TimebackError", "code": "INVALID_PAYLOAD",
                      "details": {"field": "runId", "message": message}}


def test_a_key_at_the_bound_and_a_urn_uuid_are_taken(
        visit: Callable[..., Visit], lab: Lab) -> None:  # noqa: F811 (fixtures)
    tab = open_lab(visit)
    runs = tab.page.evaluate("""(keys) => keys.map((runId) => {
        const activity = window.timeledger.createClient().activity.start({
            id: "lab-activity", name: "Lab activity", course: { subject: "Math", grade: 3 },
            runId, time: false });
        return activity.runId;
    })""", ["\U0001F600" * 256, "urn:uuid:3F0C6A52-9B1E-4C1E-8D3A-5B7F2F1E9A10"])
    assert runs == ["\U0001F600" * 256, "3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10"]
