"""`/caliper/event/validate` and `/caliper/event` agree at and past every bound (docs/bounds.md):
what validate accepts is stored and shown (never a 5xx); what it refuses, ingest refuses too."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.events import completion, heartbeat, unique_email, wrap
from tests.support.pages import every_row
from tests.support.platform import PlatformProcess, run_cli
from timeledger.caliper.bounds import MAX_COUNT, MAX_WINDOW_MS, MAX_XP, WINDOW_SLACK_MS
from timeledger.caliper.times import format_utc

ISO = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")
MS = timedelta(milliseconds=1)
#: Window ends at the year bounds, inside them and past them.
ENDS_INSIDE = (datetime(1970, 1, 2, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC),
               datetime(2999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
               datetime(2025, 6, 1, 12, tzinfo=UTC))
ENDS_PAST = (datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
             datetime(3000, 1, 1, tzinfo=UTC), datetime(500, 6, 1, 12, tzinfo=UTC),
             datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC))
SPANS_MS = (None, 0, 1, 10_000, MAX_WINDOW_MS, MAX_WINDOW_MS + 1, -1)
XPS = (0, 0.5, -3, MAX_XP, -MAX_XP, MAX_XP + 0.001, -MAX_XP - 0.001, 1e308, 9.3e15, 5e15)
COUNTS = (None, 0, MAX_COUNT, MAX_COUNT + 1)
PCTS = (None, 0, 100, 100.001, -0.001)
ATTEMPTS = (None, 1, 1_000_000, 1_000_001)


def post(platform: PlatformProcess, path: str, body: dict[str, Any]) -> httpx.Response:
    with platform.http() as client:
        return client.post(path, json=body)


def wait_for(platform: PlatformProcess, reply: httpx.Response) -> None:
    """Until the projector has applied this envelope (acknowledged once appended)."""
    job = reply.json()["jobId"]
    with platform.http() as client:
        status = client.get(f"/jobs/{job}/status", params={"wait": 30}).json()
    assert status["job"]["state"] == "completed", status


def time_event(email: str, run: str, end: datetime, span_ms: int | None, total_ms: int,
               inactive_share: float) -> dict[str, Any]:
    inactive_ms = round(total_ms * inactive_share)
    event = heartbeat(email, run, datetime(2025, 1, 15, 10, tzinfo=UTC), 1, 1)
    start = end - span_ms * MS if span_ms is not None else None
    items: list[dict[str, Any]] = []
    for kind, amount in (("active", total_ms - inactive_ms), ("inactive", inactive_ms)):
        item: dict[str, Any] = {"type": kind, "value": amount / 1000}
        if start is not None:
            item.update(startDate=format_utc(start), endDate=format_utc(end))
        items.append(item)
    event["generated"]["items"] = items
    event["eventTime"] = format_utc(end)
    return event


@st.composite
def time_events(draw: st.DrawFn, email: str, runs: tuple[str, str]) -> dict[str, Any]:
    end = draw(st.sampled_from(ENDS_INSIDE + ENDS_PAST))
    span = draw(st.sampled_from(SPANS_MS))
    if span is not None and (end.year, span > 0) in ((1, True), (9999, False)):
        span = 0  # Python's datetimes end at years 1 and 9999 too
    limit = MAX_WINDOW_MS if span is None else max(span, 0) + WINDOW_SLACK_MS
    total = draw(st.sampled_from((0, limit, limit + 1, MAX_WINDOW_MS, MAX_WINDOW_MS + 1,
                                  2 * MAX_WINDOW_MS)))
    share = draw(st.sampled_from((0.0, 0.5, 1.0)))
    return time_event(email, draw(st.sampled_from(runs)), end, span, total, share)


@st.composite
def completion_events(draw: st.DrawFn, email: str, runs: tuple[str, str]) -> dict[str, Any]:
    at = draw(st.sampled_from(ENDS_INSIDE + ENDS_PAST))
    event = completion(email, draw(st.sampled_from(runs)), at, 1)
    items: list[dict[str, Any]] = [{"type": "xpEarned", "value": draw(st.sampled_from(XPS))}]
    total = draw(st.sampled_from(COUNTS))
    if total is not None:
        items += [{"type": "totalQuestions", "value": total},
                  {"type": "correctQuestions", "value": draw(st.sampled_from((0, total)))}]
    units = draw(st.sampled_from(COUNTS))
    if units is not None:
        items.append({"type": "masteredUnits", "value": units})
    generated = event["generated"]
    generated["items"] = items
    pct, attempt = draw(st.sampled_from(PCTS)), draw(st.sampled_from(ATTEMPTS))
    generated.pop("attempt", None)
    if attempt is not None:
        generated["attempt"] = attempt
    if pct is not None:
        generated["extensions"] = {"pctCompleteApp": pct}
    return event


@st.composite
def envelopes(draw: st.DrawFn) -> tuple[str, tuple[str, str], dict[str, Any]]:
    email = unique_email("bounds")
    runs = (str(uuid.uuid4()), str(uuid.uuid4()))
    events = draw(st.lists(st.one_of(time_events(email, runs), completion_events(email, runs)),
                           min_size=1, max_size=4))
    return email, runs, wrap(*events)


def assert_shown(platform: PlatformProcess, email: str, runs: set[str]) -> None:
    """Every query route and page that shows this learner answers 200, with ISO times."""
    learner = quote(email, safe="")
    with platform.http() as client:
        paths = ["/api/v1/learners", f"/api/v1/learners/{learner}/summary", "/learners",
                 f"/learners/{learner}", "/events", "/flags", "/api/v1/flags",
                 "/api/v1/gradebook"]
        paths += [p for run in runs for p in (f"/api/v1/runs/{run}", f"/runs/{run}")]
        for path in paths:
            reply = client.get(path)
            assert reply.status_code == 200, (path, reply.text[:500])
        stored = client.get("/caliper/events", params={"learner": email})
        assert stored.status_code == 200
        times = [e["eventTime"] for e in stored.json()["events"]]
        assert times and all(ISO.match(t) for t in times), times
        assert all(ISO.match(v) for v in client.get(
            f"/api/v1/learners/{learner}/summary").json()["learner"].values()
            if isinstance(v, str) and v[:1].isdigit())


def stored_count(platform: PlatformProcess, email: str) -> int:
    with platform.http() as client:
        reply = client.get("/caliper/events", params={"learner": email})
    assert reply.status_code == 200
    return len(reply.json()["events"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=envelopes())
def test_validate_and_ingest_agree_at_and_past_every_bound(
        platform: PlatformProcess, case: tuple[str, tuple[str, str], dict[str, Any]]) -> None:
    email, _runs, body = case
    checked = post(platform, "/caliper/event/validate", body)
    stored = post(platform, "/caliper/event", body)
    assert checked.status_code in (200, 400), checked.text[:500]
    assert stored.status_code == checked.status_code, (checked.text[:500], stored.text[:500])
    if checked.status_code == 400:
        assert (stored.json()["imsx_error_details"][0]
                == checked.json()["imsx_error_details"][0])
        assert stored_count(platform, email) == 0
        return
    wait_for(platform, stored)
    runs = {e["extensions"]["runId"] for e in body["data"]}
    assert_shown(platform, email, runs)


# --- the 500s the issue found, each now a 400 naming the property --------------------------------

T0 = datetime(2025, 1, 15, 10, tzinfo=UTC)


def _two_completions_of_5e15(email: str, run: str) -> list[dict[str, Any]]:
    return [completion(email, run, T0, 5e15), completion(email, str(uuid.uuid4()), T0, 5e15)]


def _window_ending_9999(email: str, run: str) -> list[dict[str, Any]]:
    return [time_event(email, run, datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
                       15_000, 15_000, 0)]


def _event_time(moment: str, window: bool) -> Callable[[str, str], list[dict[str, Any]]]:
    def make(email: str, run: str) -> list[dict[str, Any]]:
        event = time_event(email, run, T0, 15_000 if window else None, 15_000, 0)
        event["eventTime"] = moment
        return [event]
    return make


def _inflated(email: str, run: str) -> list[dict[str, Any]]:
    return [time_event(email, run, T0, 1, 2 * MAX_WINDOW_MS, 0.5)]


ISSUE_500S: dict[str, tuple[Callable[[str, str], list[dict[str, Any]]], str]] = {
    "xp 1e308": (lambda e, r: [completion(e, r, T0, 1e308)], "data[0].generated.items[0].value"),
    "xp 9.3e15": (lambda e, r: [completion(e, r, T0, 9.3e15)],
                  "data[0].generated.items[0].value"),
    "two completions of 5e15": (_two_completions_of_5e15, "data[0].generated.items[0].value"),
    "window ending 9999-12-31": (_window_ending_9999, "data[0].eventTime"),
    "eventTime 0500": (_event_time("0500-06-01T12:00:00.000Z", True), "data[0].eventTime"),
    "eventTime 0001 without startDate": (_event_time("0001-01-01T00:00:00.000Z", False),
                                         "data[0].eventTime"),
    "eventTime 9999": (_event_time("9999-06-01T12:00:00.000Z", True), "data[0].eventTime"),
    "2 x 86,400 s in a 1 ms window": (_inflated, "data[0].generated.items[0].value"),
}


def test_each_500_the_issue_found_is_a_400_naming_the_property(platform: PlatformProcess) -> None:
    for name, (make, path) in ISSUE_500S.items():
        email = unique_email("issue15")
        body = wrap(*make(email, str(uuid.uuid4())))
        for route in ("/caliper/event/validate", "/caliper/event"):
            reply = post(platform, route, body)
            assert reply.status_code == 400, (name, route, reply.text[:500])
            assert reply.json()["imsx_error_details"][0]["path"] == path, (name, reply.text)
        assert stored_count(platform, email) == 0, name


def test_the_extremes_that_are_accepted_are_stored_shown_and_rebuilt(
        make_platform: Callable[..., PlatformProcess]) -> None:
    """Sums of extreme accepted values stay exact integers, and rebuild reproduces them."""
    platform = make_platform(timezone="Pacific/Kiritimati")  # UTC+14: year 2999 ends in 3000
    email = unique_email("extreme")
    runs = [str(uuid.uuid4()) for _ in range(3)]
    first, last = datetime(1970, 1, 2, tzinfo=UTC), datetime(2999, 12, 31, 23, 59, 59, 999000,
                                                              tzinfo=UTC)
    events = [time_event(email, runs[0], first, MAX_WINDOW_MS, MAX_WINDOW_MS + 1000, 0.5),
              time_event(email, runs[1], datetime(1970, 1, 1, tzinfo=UTC), None,
                         MAX_WINDOW_MS, 0.5),
              time_event(email, runs[2], last, MAX_WINDOW_MS, MAX_WINDOW_MS, 0.25)]
    for index, (run, xp) in enumerate(((runs[0], MAX_XP), (runs[1], MAX_XP), (runs[2], -MAX_XP),
                                       (runs[2], 0.001))):
        event = completion(email, run, last if index >= 2 else first, xp, MAX_COUNT, MAX_COUNT,
                           attempt=index + 1)
        event["generated"]["items"].append({"type": "masteredUnits", "value": MAX_COUNT})
        event["generated"]["extensions"] = {"pctCompleteApp": 100}
        events.append(event)
    assert post(platform, "/caliper/event/validate", wrap(*events)).status_code == 200
    reply = post(platform, "/caliper/event", wrap(*events))
    assert reply.status_code == 200, reply.text
    wait_for(platform, reply)
    assert_shown(platform, email, set(runs))
    def learner_entry() -> dict[str, Any]:  # all-time totals (a summary covers at most a year)
        (entry,) = [p for p in every_row(platform, "/api/v1/learners", "learners")
                    if p["email"] == email]
        return dict(entry)

    before = learner_entry()
    totals = before["totals"]
    assert totals["xp"] == MAX_XP + 0.001  # 1e6 + 1e6 - 1e6 + 0.001, summed in thousandths
    assert totals["completions"] == 4
    assert totals["total_questions"] == 4 * MAX_COUNT
    active_ms = sum(e["generated"]["items"][0]["value"] * 1000 for e in events[:3])
    assert totals["active_minutes"] == round(active_ms / 60_000, 2)  # minutes to 2 places
    runs_before = [platform.get(f"/api/v1/runs/{run}") for run in runs]
    platform.stop()
    done = run_cli("rebuild", *platform.db_args(), "--timezone", "Pacific/Kiritimati", "--quiet")
    assert done.returncode == 0, done.stderr
    platform.start()
    assert learner_entry() == before
    assert [platform.get(f"/api/v1/runs/{run}") for run in runs] == runs_before
