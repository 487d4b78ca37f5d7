"""timeledger.js in Debian's Chromium, against a real app (uvicorn) in front of a real platform."""

# Page time is Playwright's clock, paused: only `run_for` moves it, so every window is exact.

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import browser, missing_tool  # noqa: F401 (fixture)
from tests.support.platform import PlatformProcess
from tests.web.test_web_protocol import SUBMIT_ERRORS
from tests.web.web_lab import AdapterTraffic, Seen, create_lab_app
from tests.web.web_support import (
    JS_PACKAGE,
    ServedApp,
    closing,
    platform_client,
    stored_events,
    totals,
    windows,
)
from timeledger import Client

pytestmark = pytest.mark.browser

FRAMEWORK_BUILDS = ("react/umd/react.development.js", "react-dom/umd/react-dom.development.js",
                    "vue/dist/vue.esm-browser.js", "svelte/src/runtime/store/index.js")

MONDAY = datetime(2025, 1, 13, 10, 0, tzinfo=UTC)
WEDNESDAY = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)
LOAD_MARGIN = timedelta(minutes=5)


@pytest.fixture(scope="session")
def js_modules() -> Path:
    """js/node_modules with the frameworks' browser builds (scripts/install-test-deps.sh)."""
    modules = JS_PACKAGE / "node_modules"
    if all((modules / build).is_file() for build in FRAMEWORK_BUILDS):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        missing_tool("npm is not installed (needed for js/node_modules: React, Vue, Svelte)")
    result = subprocess.run([str(npm), "install", "--no-audit", "--no-fund"], cwd=JS_PACKAGE,
                            capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0 or not all((modules / b).is_file() for b in FRAMEWORK_BUILDS):
        missing_tool(f"npm install in js/ failed: {result.stderr[-500:]}")
    return modules


@dataclass
class Lab:
    url: str
    client: Client
    traffic: AdapterTraffic
    platform: PlatformProcess

    def delivered(self) -> None:
        """Everything the adapter accepted has reached the platform."""
        assert self.client.flush(20), "the outbox did not drain"


@pytest.fixture(scope="module")
def lab(platform: PlatformProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    folder = tmp_path_factory.mktemp("lab")
    client = platform_client(platform, folder / "outbox.sqlite3", max_backoff=0.2)
    app, traffic = create_lab_app(client, folder / "lessons.sqlite3", JS_PACKAGE / "node_modules")
    with closing(client), ServedApp(app) as served:
        yield Lab(served.url, client, traffic, platform)


@dataclass
class Visit:
    """One signed-in browser context with a page whose clock is installed and paused."""

    page: Any
    email: str
    start: datetime

    def at(self, seconds: float) -> str:
        return (self.start + timedelta(seconds=seconds)).isoformat(timespec="milliseconds"
                                                                    ).replace("+00:00", "Z")

    def run(self, seconds: float) -> None:
        self.page.clock.run_for(int(seconds * 1000))

    def hide(self, hidden: bool = True) -> None:
        """Headless tabs are always visible: redefine visibility and tell the page it changed."""
        self.page.evaluate("""(hidden) => {
            Object.defineProperty(document, "visibilityState",
                                  { configurable: true, get: () => hidden ? "hidden" : "visible" });
            Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
            document.dispatchEvent(new Event("visibilitychange"));
        }""", hidden)

    def calls(self) -> list[list[Any]]:
        calls: list[list[Any]] = self.page.evaluate("window.calls")
        return calls


@pytest.fixture
def visit(browser: Any, lab: Lab, request: pytest.FixtureRequest  # noqa: F811 (fixture)
          ) -> Iterator[Callable[..., Visit]]:
    """Open pages as a fresh learner: visit(path, start=<page clock time>, email=None)."""
    contexts: list[Any] = []
    name = "".join(c for c in request.node.name.removeprefix("test_")[:24]
                   if c.isalnum() or c == "_")
    email = f"{name}-{uuid.uuid4().hex[:6]}@example.edu"

    def open_page(path: str, start: datetime = WEDNESDAY, as_email: str | None = None) -> Visit:
        context = browser.new_context(base_url=lab.url)
        contexts.append(context)
        signed_in = context.request.post("/signin", form={"email": as_email or email})
        assert signed_in.ok
        page = context.new_page()
        # Page time flows while the page loads (well under the margin), then stops at `start`.
        page.clock.install(time=start - LOAD_MARGIN)
        page.goto(path)
        page.clock.pause_at(start)
        return Visit(page, as_email or email, start)

    yield open_page
    for context in contexts:
        context.close()


def open_lab(visit: Callable[..., Visit], start: datetime = WEDNESDAY) -> Visit:
    opened = visit("/lab", start)
    opened.page.wait_for_function("() => window.timeledger !== undefined")
    return opened


def start_activity(lab_visit: Visit, **options: Any) -> str:
    """Start an activity on the lab page (as window.activity); returns its runId."""
    run_id: str = lab_visit.page.evaluate("""(options) => {
        window.client = window.client || window.timeledger.createClient();
        window.activity = window.client.activity.start({
            id: "lab-activity", name: "Lab activity", course: { subject: "Math", grade: 3 },
            ...window.callbacks, ...options });
        return window.activity.runId;
    }""", options)
    return run_id


def heartbeats(traffic: AdapterTraffic, run_id: str) -> list[Seen]:
    return [s for s in traffic.of(run_id) if s.route == "heartbeat"]


def answer_lesson(page: Any, question: int) -> None:
    """Click the right answer to the lesson's question number `question`."""
    answer = page.evaluate("(i) => window.app.data.questions[i].answer", question)
    page.click(f'#choices button[data-value="{answer}"]')


def run_record(lab: Lab, run_id: str) -> dict[str, Any]:
    record: dict[str, Any] = lab.platform.get(f"/api/v1/runs/{run_id}")
    return record


# ---- (a) a quiz with the tab hidden part of the time ---------------------------------------------

def test_a_quiz_with_the_tab_hidden_gives_the_exact_split(visit: Callable[..., Visit],
                                                          lab: Lab) -> None:
    quiz = visit("/quiz")
    page = quiz.page
    right, wrong = "#choices button >> nth=1", "#choices button >> nth=0"

    page.click("#start")
    quiz.run(20)
    page.click(right)
    quiz.hide()
    quiz.run(25)
    quiz.hide(False)
    quiz.run(10)
    page.click(wrong)
    quiz.run(5)
    for _ in range(3):
        page.click(right)
    page.wait_for_function("() => document.getElementById('status').textContent"
                           ".startsWith('Quiz complete')")
    lab.delivered()

    run_id = page.evaluate("window.app.activity.runId")
    # 35 s focused × 4/5 right = 0.467 XP, rounded down to 0.1: never above the focused minutes
    assert page.text_content("#status") == "Quiz complete: 4/5 right, 0.4 XP."
    assert [(w["start"], w["active"], w["inactive"]) for w in windows(
        stored_events(lab.platform, quiz.email, "TimeSpentEvent"))] == [
        (quiz.start + timedelta(seconds=0), 15.0, 0.0),
        (quiz.start + timedelta(seconds=15), 5.0, 10.0),
        (quiz.start + timedelta(seconds=30), 0.0, 15.0),
        (quiz.start + timedelta(seconds=45), 15.0, 0.0)]
    record = run_record(lab, run_id)
    assert (record["active_seconds"], record["inactive_seconds"]) == (35.0, 25.0)
    [completion] = stored_events(lab.platform, quiz.email, "ActivityEvent")
    assert completion["extensions"]["runId"] == run_id
    assert {i["type"]: i["value"] for i in completion["generated"]["items"]} == {
        "xpEarned": 0.4, "totalQuestions": 5, "correctQuestions": 4}
    assert "extensions" not in completion["generated"]  # one quiz is not the course done
    assert completion["eventTime"] == quiz.at(60)
    # The quiz never flags itself, and it looks like an app: its stylesheet and icon load.
    assert [flag["kind"] for flag in lab.platform.get("/api/v1/flags", learner=quiz.email)[
        "flags"] if flag["kind"] == "xp_above_focused_minutes"] == []
    assert page.evaluate("getComputedStyle(document.body).maxWidth") == "640px"
    assert page.evaluate("""() => fetch(document.querySelector("link[rel=icon]").href)
        .then(r => r.status + ' ' + r.headers.get('content-type'))""") == "200 image/svg+xml"


# ---- (b) hidden past the timeout -----------------------------------------------------------------

def test_hidden_past_the_timeout_reports_nothing_more_and_resumes_fresh(
        visit: Callable[..., Visit], lab: Lab) -> None:
    tab = open_lab(visit)
    run_id = start_activity(tab, time={"hiddenTimeoutMs": 60000})

    tab.run(20)
    tab.hide()
    tab.run(900)
    assert tab.page.evaluate("[window.activity.isPaused, window.activity.elapsedMs]") == [True, 0]
    tab.hide(False)
    tab.run(30)
    tab.page.evaluate("window.activity.end()")
    lab.delivered()

    found = windows(stored_events(lab.platform, tab.email, "TimeSpentEvent", run_id))
    assert [(w["start"], w["end"], w["active"], w["inactive"]) for w in found] == [
        (tab.start + timedelta(seconds=start), tab.start + timedelta(seconds=end), active, idle)
        for start, end, active, idle in [(0, 15, 15.0, 0.0), (15, 30, 5.0, 10.0),
                                         (30, 45, 0.0, 15.0), (45, 60, 0.0, 15.0),
                                         (60, 75, 0.0, 15.0), (75, 80, 0.0, 5.0),
                                         (920, 935, 15.0, 0.0), (935, 950, 15.0, 0.0)]]
    assert totals(lab.platform, tab.email, run_id) == (50.0, 60.0)
    pauses = [c for c in tab.calls() if c[0] in ("pause", "resume")]
    millis = int(tab.start.timestamp() * 1000)
    assert pauses == [["pause", millis + 80_000], ["resume", millis + 920_000]]


def test_a_throttled_hidden_tab_reports_nothing_past_the_timeout_when_its_timers_fire_late(
        visit: Callable[..., Visit], lab: Lab) -> None:
    """Chromium runs a hidden tab's timers about once a minute: here they fire 14 minutes late."""
    tab = open_lab(visit)
    run_id = start_activity(tab, time={"hiddenTimeoutMs": 60000})

    tab.run(20)
    tab.hide()
    # One jump of 900 s: the heartbeat (due at 30 s) and the timeout (due at 80 s) fire once, at
    # 920 s, as a throttled tab's would.
    tab.page.clock.fast_forward(900_000)
    assert tab.page.evaluate("[window.activity.isPaused, window.activity.elapsedMs]") == [True, 0]
    tab.hide(False)
    tab.run(30)
    tab.page.evaluate("window.activity.end()")
    lab.delivered()

    found = windows(stored_events(lab.platform, tab.email, "TimeSpentEvent", run_id))
    assert [(w["start"], w["end"], w["active"], w["inactive"]) for w in found] == [
        (tab.start + timedelta(seconds=start), tab.start + timedelta(seconds=end), active, idle)
        for start, end, active, idle in [(0, 15, 15.0, 0.0), (15, 80, 5.0, 60.0),
                                         (920, 935, 15.0, 0.0), (935, 950, 15.0, 0.0)]]
    assert totals(lab.platform, tab.email, run_id) == (50.0, 60.0)
    millis = int(tab.start.timestamp() * 1000)
    assert [c for c in tab.calls() if c[0] in ("pause", "resume")] == [
        ["pause", millis + 920_000], ["resume", millis + 920_000]]


# ---- (c) a resumable lesson over two days --------------------------------------------------------

def test_a_resumable_lesson_over_two_days_is_one_run_with_one_completion(
        visit: Callable[..., Visit], lab: Lab) -> None:
    monday = visit("/lesson", MONDAY)
    run_id = monday.page.evaluate("JSON.parse(document.getElementById('page-data').textContent)"
                                  ".run.runId")
    monday.page.click("#start")
    answer_lesson(monday.page, 0)
    monday.run(30)
    answer_lesson(monday.page, 1)
    monday.run(30)
    with monday.page.expect_navigation():
        monday.page.click("#leave")

    wednesday = visit("/lesson", WEDNESDAY, as_email=monday.email)
    page = wednesday.page
    assert page.evaluate("JSON.parse(document.getElementById('page-data').textContent).run") == {
        "runId": run_id, "attempt": 1, "answered": 2, "correct": 2, "activeMs": 60000}
    assert page.text_content("#start") == "Resume"
    page.click("#start")
    for question in range(2, 6):
        wednesday.run(20)
        answer_lesson(page, question)
    page.wait_for_function("() => document.getElementById('status').textContent"
                           ".startsWith('Lesson complete')")
    lab.delivered()

    assert page.text_content("#status") == "Lesson complete: 6/6 right, 2.3 XP."
    record = run_record(lab, run_id)
    assert (record["active_seconds"], record["inactive_seconds"]) == (140.0, 0.0)
    assert [(d["date"], d["active_seconds"]) for d in record["session_days"]] == [
        ("2025-01-13", 60.0), ("2025-01-15", 80.0)]
    assert (record["sessions"], record["completions"]) == (2, 1)
    [completion] = stored_events(lab.platform, monday.email, "ActivityEvent")
    assert completion["extensions"]["runId"] == run_id
    assert {i["type"]: i["value"] for i in completion["generated"]["items"]} == {
        "xpEarned": 2.3, "totalQuestions": 6, "correctQuestions": 6, "masteredUnits": 1}
    again = visit("/lesson", WEDNESDAY + timedelta(hours=1), as_email=monday.email)
    fresh = again.page.evaluate("JSON.parse(document.getElementById('page-data').textContent).run")
    assert (fresh["attempt"], fresh["answered"]) == (2, 0)
    assert fresh["runId"] != run_id


# ---- (d) the last window leaves by beacon --------------------------------------------------------

def test_closing_the_page_mid_window_delivers_it_by_beacon(visit: Callable[..., Visit],
                                                           lab: Lab) -> None:
    tab = open_lab(visit)
    run_id = start_activity(tab)
    tab.run(22)
    lab.traffic.wait_for(lambda seen: len(heartbeats(lab.traffic, run_id)) == 1, "a heartbeat")
    # The page must have its answer too: a window still unacknowledged would leave again by beacon.
    tab.page.wait_for_function("() => window.calls.some(([name]) => name === 'flush')")

    tab.page.close()

    lab.traffic.wait_for(lambda seen: len(heartbeats(lab.traffic, run_id)) == 2, "the beacon")
    first, last = heartbeats(lab.traffic, run_id)
    assert first.content_type == "application/json"
    assert last.content_type == "text/plain;charset=UTF-8"
    assert last.status == 204
    assert last.body is not None
    assert {k: last.body[k] for k in ("startedAt", "endedAt", "elapsedMs", "pausedMs")} == {
        "startedAt": tab.at(15), "endedAt": tab.at(22), "elapsedMs": 7000, "pausedMs": 0}
    lab.delivered()
    assert totals(lab.platform, tab.email, run_id) == (22.0, 0.0)


def test_a_window_still_in_flight_at_pagehide_leaves_again_and_counts_once(
        visit: Callable[..., Visit], lab: Lab) -> None:
    tab = open_lab(visit)
    run_id = start_activity(tab)
    release = lab.traffic.hold_next_heartbeat()
    tab.run(22)

    tab.page.close()

    beacons = lab.traffic.wait_for(lambda seen: len(heartbeats(lab.traffic, run_id)) == 2,
                                   "both windows by beacon")
    assert all(s.content_type == "text/plain;charset=UTF-8" and s.status == 204
               for s in beacons if s.body and s.body.get("runId") == run_id)
    release()
    lab.traffic.wait_for(lambda seen: len(heartbeats(lab.traffic, run_id)) == 3, "the held one")
    held = heartbeats(lab.traffic, run_id)[2]
    assert held.content_type == "application/json"
    assert held.body is not None and (held.body["startedAt"], held.status) == (tab.at(0), 200)
    lab.delivered()
    assert totals(lab.platform, tab.email, run_id) == (22.0, 0.0)


# ---- (e) retries, and errors reaching onError ----------------------------------------------------

def test_503_twice_then_204_loses_nothing(visit: Callable[..., Visit], lab: Lab) -> None:
    tab = open_lab(visit)
    run_id = start_activity(tab)
    lab.traffic.fail_next(503, 503)

    tab.run(15)
    lab.traffic.wait_for(lambda seen: [s.status for s in heartbeats(lab.traffic, run_id)] == [503],
                         "the first failure")
    advanced = 15.0
    # The client waits 1 s, then 2 s, between tries: move page time until the window lands.
    while [s.status for s in heartbeats(lab.traffic, run_id)][-1:] != [204]:
        assert advanced < 60, f"no retry landed: {heartbeats(lab.traffic, run_id)}"
        tab.run(0.5)
        advanced += 0.5
    tab.page.evaluate("window.activity.end()")
    lab.delivered()

    tries = heartbeats(lab.traffic, run_id)
    assert [s.status for s in tries][:3] == [503, 503, 204]
    assert {s.body["startedAt"] for s in tries[:3] if s.body} == {tab.at(0)}
    assert totals(lab.platform, tab.email, run_id) == (advanced, 0.0)
    assert [c for c in tab.calls() if c[0] == "error"] == []
    assert [c[1] for c in tab.calls() if c[0] == "flush"] == [
        int(s.body["elapsedMs"]) for s in tries if s.status == 204 and s.body]


def test_a_400_reaches_on_error_and_a_failed_completion_is_thrown(
        visit: Callable[..., Visit], lab: Lab) -> None:
    tab = open_lab(visit)
    run_id = start_activity(tab, course={"subject": "Math", "grade": 9})

    tab.run(15)
    tab.page.wait_for_function("() => window.calls.some((call) => call[0] === 'error')")
    thrown = tab.page.evaluate("""() => window.activity.end({ xpEarned: 1 }).then(
        () => null, (error) => [error.code, error.status, error.field, error.message])""")

    message = "No configured course matches subject 'Math' grade 9"
    assert tab.calls() == [["error", "UNKNOWN_COURSE", 400, "heartbeat", "course"],
                           ["error", "UNKNOWN_COURSE", 400, "submit", "course"]]
    assert thrown == ["UNKNOWN_COURSE", 400, "course", message]
    assert [(s.route, s.status) for s in lab.traffic.of(run_id)] == [
        ("heartbeat", 400), ("submit", 400)]
    assert tab.page.evaluate("window.activity.isEnded") is False


def test_retries_back_off_then_reach_on_error_and_the_window_goes_with_the_next_heartbeat(
        visit: Callable[..., Visit], lab: Lab) -> None:
    tab = open_lab(visit)
    millis = int(tab.start.timestamp() * 1000)
    run_id = tab.page.evaluate("""() => {
        window.fetched = [];
        const recording = (url, init) => {
            window.fetched.push(Date.now());
            return fetch(url, init);
        };
        window.client = window.timeledger.createClient({ fetch: recording });
        window.activity = window.client.activity.start({
            id: "lab-activity", name: "Lab activity", course: { subject: "Math", grade: 3 },
            time: { retryAttempts: 2 }, ...window.callbacks });
        return window.activity.runId;
    }""")
    lab.traffic.fail_next(503, 503, 503)

    tab.run(15)
    stepped = 15000
    # Page time moves in 0.1 s steps, each once the backend has answered every request made so
    # far, until the tries run out (1 + retryAttempts).
    while not [c for c in tab.calls() if c[0] == "error"]:
        assert stepped < 25000, f"the retries did not run out: {heartbeats(lab.traffic, run_id)}"
        made: int = tab.page.evaluate("window.fetched.length")

        def answered(seen: list[Seen], made: int = made) -> bool:
            return len(heartbeats(lab.traffic, run_id)) >= made

        lab.traffic.wait_for(answered, "the backend to answer")
        tab.page.clock.run_for(100)
        stepped += 100
    tab.run((30000 - stepped) / 1000)
    lab.traffic.wait_for(lambda seen: len(heartbeats(lab.traffic, run_id)) == 5, "both windows")
    tab.page.wait_for_function("() => window.calls.filter(([n]) => n === 'flush').length === 2")
    tab.run(5)
    tab.page.evaluate("window.activity.end()")
    lab.delivered()

    tries = heartbeats(lab.traffic, run_id)
    assert [(s.status, s.body and s.body["startedAt"]) for s in tries] == [
        (503, tab.at(0)), (503, tab.at(0)), (503, tab.at(0)),
        (204, tab.at(0)), (204, tab.at(15)), (204, tab.at(30))]
    fetched = [at - millis for at in tab.page.evaluate("window.fetched")]
    assert fetched[0] == 15000
    assert 1000 <= fetched[1] - fetched[0] < 1500  # waits 1 s,
    assert 2000 <= fetched[2] - fetched[1] < 2500  # then 2 s (doubling), then gives up
    assert fetched[3:] == [30000, 30000, 35000]  # kept, and sent before the next window
    assert [c for c in tab.calls() if c[0] == "error"] == [
        ["error", "INTERNAL_ERROR", 503, "heartbeat", None]]
    assert [c[1] for c in tab.calls() if c[0] == "flush"] == [15000, 15000, 5000]
    assert totals(lab.platform, tab.email, run_id) == (35.0, 0.0)


# ---- createClient options ------------------------------------------------------------------------

def test_client_options_shape_every_request_and_the_page_exit_one(
        visit: Callable[..., Visit], lab: Lab) -> None:
    tab = open_lab(visit)
    run_id = tab.page.evaluate("""(base) => {
        const ownFetch = (url, init) =>
            fetch(url, { ...init, headers: { ...init.headers, "X-Fetch": "own" } });
        window.client = window.timeledger.createClient({
            baseURL: `${base}/api/timeback/`, fetch: ownFetch,
            headers: async () => ({ Authorization: "Bearer lesson-token" }) });
        window.activity = window.client.activity.start({
            id: "lab-activity", name: "Lab activity", course: { subject: "Math", grade: 3 },
            ...window.callbacks });
        return window.activity.runId;
    }""", lab.url)
    tab.run(15)
    tab.page.wait_for_function("() => window.calls.some(([name]) => name === 'flush')")
    tab.run(5)

    tab.page.close()

    lab.traffic.wait_for(lambda seen: len(heartbeats(lab.traffic, run_id)) == 2, "the last window")
    lab.delivered()
    tries = heartbeats(lab.traffic, run_id)
    # A beacon cannot carry headers: with `headers`, the last window leaves by keepalive fetch
    # (through the page's own `fetch`), so it is JSON, not a text/plain beacon.
    assert [(s.status, s.content_type, s.headers.get("authorization"), s.headers.get("x-fetch"))
            for s in tries] == [(204, "application/json", "Bearer lesson-token", "own")] * 2
    assert tries[1].body is not None
    assert (tries[1].body["startedAt"], tries[1].body["elapsedMs"]) == (tab.at(15), 5000)
    assert totals(lab.platform, tab.email, run_id) == (20.0, 0.0)


def test_credentials_omit_sends_no_session_cookie(visit: Callable[..., Visit], lab: Lab) -> None:
    tab = open_lab(visit)
    run_id = tab.page.evaluate("""() => {
        window.client = window.timeledger.createClient({ credentials: "omit" });
        window.activity = window.client.activity.start({
            id: "lab-activity", name: "Lab activity", course: { subject: "Math", grade: 3 },
            ...window.callbacks });
        return window.activity.runId;
    }""")

    tab.run(15)
    tab.page.wait_for_function("() => window.calls.some(([name]) => name === 'error')")

    [beat] = heartbeats(lab.traffic, run_id)
    assert (beat.status, "cookie" in beat.headers) == (401, False)
    assert tab.calls() == [["error", "UNAUTHORIZED", 401, "heartbeat", None]]


# ---- (f) one activity at a time ------------------------------------------------------------------

def test_starting_a_second_activity_throws(visit: Callable[..., Visit], lab: Lab) -> None:
    tab = open_lab(visit)
    first = start_activity(tab)

    outcome = tab.page.evaluate("""async () => {
        let error = null;
        try { window.client.activity.start({ id: "b", name: "B", course: { code: "CS-101" } }); }
        catch (caught) { error = [caught.name, caught.code, caught.message]; }
        const during = window.client.activity.current.runId;
        await window.activity.end();
        const second = window.client.activity.start(
            { id: "b", name: "B", course: { code: "CS-101" } });
        return { error, during, ended: window.activity.isEnded,
                 after: window.client.activity.current === second };
    }""")

    assert outcome == {
        "error": ["TimebackError", "ACTIVITY_IN_PROGRESS",
                  "Another activity is already in progress"],
        "during": first, "ended": True, "after": True}


# ---- the client-side metric rules are the server's -----------------------------------------------

def test_end_checks_metrics_with_the_servers_messages_before_sending(
        visit: Callable[..., Visit], lab: Lab) -> None:
    tab = open_lab(visit)
    run_id = start_activity(tab, time=False)
    cases = [(changes["metrics"], field, message) for changes, field, message in SUBMIT_ERRORS
             if "metrics" in changes and isinstance(changes["metrics"], dict)]
    assert len(cases) == 12  # every metric rule the server states (test_web_protocol.SUBMIT_ERRORS)

    answers = tab.page.evaluate("""async (cases) => {
        const out = [];
        for (const [metrics] of cases) {
            out.push(await window.activity.end(metrics).then(
                () => null, (error) => [error.code, error.details.field, error.details.message]));
        }
        return out;
    }""", cases)

    assert answers == [["INVALID_PAYLOAD", field, message] for _, field, message in cases]
    assert lab.traffic.of(run_id) == []
    assert tab.page.evaluate("window.client.activity.current.runId") == run_id


# ---- manual pause --------------------------------------------------------------------------------

def test_manual_pause_counts_as_inactive_even_when_the_tab_comes_back(
        visit: Callable[..., Visit], lab: Lab) -> None:
    tab = open_lab(visit)
    run_id = start_activity(tab, time={"heartbeatIntervalMs": 10000})

    tab.run(4)
    tab.page.evaluate("window.activity.pause()")
    tab.run(3)
    tab.hide()
    tab.run(2)
    tab.hide(False)  # still paused by hand
    tab.run(3)
    tab.page.evaluate("window.activity.resume()")
    tab.run(5)
    state = tab.page.evaluate("[window.activity.elapsedMs, window.activity.totalActiveMs]")
    tab.page.evaluate("window.activity.end()")
    lab.delivered()

    assert state == [5000, 9000]
    assert [(w["active"], w["inactive"]) for w in windows(stored_events(
        lab.platform, tab.email, "TimeSpentEvent", run_id))] == [(4.0, 6.0), (5.0, 2.0)]


# ---- (g) React, Vue and Svelte -------------------------------------------------------------------

def test_a_react_lesson_reports_its_time_and_no_completion(
        visit: Callable[..., Visit], lab: Lab, js_modules: Path) -> None:
    tab = visit("/react")
    page = tab.page
    page.wait_for_function("() => window.ready === true")

    page.evaluate("window.show(null, true)")
    page.wait_for_selector("text=waiting for the learner")
    tab.run(30)
    started = page.evaluate("""async () => {
        const next = window.nextActivity();
        window.show({ email: "signed-in" }, true);
        return await next;
    }""")
    page.wait_for_selector(f"text=tracking {started}")
    tab.run(40)
    page.evaluate("window.show({ email: 'signed-in' }, false)")
    page.wait_for_selector("text=closed")
    lab.traffic.wait_for(lambda seen: len(heartbeats(lab.traffic, started)) == 3,
                         "the unmount's final window")
    lab.delivered()

    assert page.evaluate("window.started") == [started]
    assert [(w["start"], w["end"], w["active"]) for w in windows(stored_events(
        lab.platform, tab.email, "TimeSpentEvent"))] == [
        (tab.start + timedelta(seconds=30), tab.start + timedelta(seconds=45), 15.0),
        (tab.start + timedelta(seconds=45), tab.start + timedelta(seconds=60), 15.0),
        (tab.start + timedelta(seconds=60), tab.start + timedelta(seconds=70), 10.0)]
    assert stored_events(lab.platform, tab.email, "ActivityEvent") == []
    assert page.evaluate("window.activity.isEnded") is True


@pytest.mark.parametrize("framework", ["react", "vue", "svelte"])
def test_a_lesson_with_each_framework_binding_reaches_the_platform_exactly(
        visit: Callable[..., Visit], lab: Lab, js_modules: Path, framework: str) -> None:
    """timeledger/react, /vue and /svelte: sign in, learn with the tab hidden a while, complete."""
    tab = visit(f"/{framework}")
    page = tab.page
    page.wait_for_function("() => window.ready === true")
    page.wait_for_selector("text=waiting for the learner")
    tab.run(30)  # nobody signed in yet: nothing is tracked
    run_id = page.evaluate("""(email) => {
        const next = window.nextActivity();
        window.signIn(email);
        return next;
    }""", tab.email)
    page.wait_for_selector(f"text=tracking {run_id}")

    tab.run(20)
    tab.hide()
    tab.run(25)
    tab.hide(False)
    tab.run(10)
    page.evaluate("window.finish({ xpEarned: 0.5, totalQuestions: 4, correctQuestions: 3 })")
    lab.delivered()

    assert page.evaluate("window.started") == [run_id]
    assert [(w["start"], w["end"], w["active"], w["inactive"]) for w in windows(stored_events(
        lab.platform, tab.email, "TimeSpentEvent"))] == [
        (tab.start + timedelta(seconds=start), tab.start + timedelta(seconds=end), active, idle)
        for start, end, active, idle in [(30, 45, 15.0, 0.0), (45, 60, 5.0, 10.0),
                                         (60, 75, 0.0, 15.0), (75, 85, 10.0, 0.0)]]
    record = run_record(lab, run_id)
    assert (record["active_seconds"], record["inactive_seconds"], record["xp_earned"]) == (
        30.0, 25.0, 0.5)
    assert (record["completions"], record["completion"]["time"]) == (1, tab.at(85))
    assert (record["completion"]["total_questions"], record["completion"]["correct_questions"]
            ) == (4, 3)


# ---- time: false, and a time report given at the end ---------------------------------------------

def test_without_tracking_end_sends_the_given_time_then_the_completion(
        visit: Callable[..., Visit], lab: Lab) -> None:
    tab = open_lab(visit)
    run_id = start_activity(tab, time=False)

    tab.run(60)
    assert lab.traffic.of(run_id) == []
    tab.page.evaluate("""() => window.activity.end(
        { xpEarned: 1, pctComplete: 50 }, { time: { active: 45000, inactive: 15000 } })""")
    lab.delivered()

    [beat, submit] = lab.traffic.of(run_id)
    assert (beat.route, beat.status, submit.route, submit.status) == (
        "heartbeat", 204, "submit", 204)
    assert beat.body is not None and submit.body is not None
    assert {k: beat.body[k] for k in ("startedAt", "endedAt", "elapsedMs", "pausedMs")} == {
        "startedAt": tab.at(0), "endedAt": tab.at(60), "elapsedMs": 45000, "pausedMs": 15000}
    assert {k: submit.body[k] for k in ("endedAt", "metrics", "pctComplete")} == {
        "endedAt": tab.at(60), "metrics": {"xpEarned": 1}, "pctComplete": 50}
    assert totals(lab.platform, tab.email, run_id) == (45.0, 15.0)
    assert len(stored_events(lab.platform, tab.email, "ActivityEvent", run_id)) == 1


# ---- the bounds (docs/bounds.md) -----------------------------------------------------------------

def test_end_refuses_more_than_a_day_of_time_before_sending(visit: Callable[..., Visit],
                                                            lab: Lab) -> None:
    tab = open_lab(visit)
    run_id = start_activity(tab, time=False)
    tab.run(10)

    refused = tab.page.evaluate("""async (cases) => {
        const out = [];
        for (const time of cases) {
            out.push(await window.activity.end({ xpEarned: 1 }, { time }).then(
                () => null, (error) => [error.code, error.field, error.details.message]));
        }
        return out;
    }""", [{"active": 86_400_001}, {"active": 86_000_000, "inactive": 400_001}])

    message = "Time without a start may total at most 86400000 ms (24 hours) across its items"
    assert refused == [["INVALID_PAYLOAD", "time.active", message],
                       ["INVALID_PAYLOAD", "time.inactive", message]]
    assert lab.traffic.of(run_id) == []


def test_time_measured_elsewhere_gets_a_window_that_holds_it(visit: Callable[..., Visit],
                                                             lab: Lab) -> None:
    """120 s reported after 10 s on the page: the window ends now and starts 120 s back."""
    tab = open_lab(visit)
    run_id = start_activity(tab, time=False)
    tab.run(10)

    tab.page.evaluate("""() => window.activity.end(
        { xpEarned: 1 }, { time: { active: 86_000_000, inactive: 400_000 } })""")
    lab.delivered()

    [beat, submit] = lab.traffic.of(run_id)
    assert (beat.status, submit.status) == (204, 204)
    assert beat.body is not None
    assert {k: beat.body[k] for k in ("startedAt", "endedAt", "elapsedMs", "pausedMs")} == {
        "startedAt": tab.at(10 - 86_400), "endedAt": tab.at(10), "elapsedMs": 86_000_000,
        "pausedMs": 400_000}
    assert totals(lab.platform, tab.email, run_id) == (86_000.0, 400.0)


def test_a_window_longer_than_a_day_is_refused_before_sending(visit: Callable[..., Visit],
                                                              lab: Lab) -> None:
    """A machine asleep for a day wakes with a window past the bounds: onError, nothing sent."""
    tab = open_lab(visit)
    run_id = start_activity(tab)
    tab.run(15)
    tab.page.wait_for_function("() => window.calls.some((call) => call[0] === 'flush')")
    tab.page.clock.set_system_time(WEDNESDAY + timedelta(days=1, seconds=30))
    tab.run(15)
    lab.delivered()

    errors = [c for c in tab.calls() if c[0] == "error"]
    assert errors == [["error", "INVALID_PAYLOAD", None, "heartbeat", "endedAt"]]
    assert [(s.route, s.status) for s in lab.traffic.of(run_id)] == [("heartbeat", 204)]
