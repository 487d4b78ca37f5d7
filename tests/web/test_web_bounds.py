"""The adapter and the platform draw the same line: the browser client states the wire layer's
bounds, and whatever the adapter accepts becomes an event the platform's checks accept, while
whatever it refuses the platform would refuse too."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.events import activity
from tests.web.web_support import closing, offline_client
from timeledger import Client
from timeledger.caliper import CaliperError, Learner, Metrics, bounds, parse_envelope
from timeledger.caliper.builders import completed_event, envelope, time_spent_event
from timeledger.caliper.times import format_utc
from timeledger.web import WebAdapter

CLIENT = Path(bounds.__file__).resolve().parents[1] / "web" / "static" / "timeledger.js"
LEARNER = {"email": "student@example.edu", "id": "student-123"}
COURSE = {"subject": "Math", "grade": 3}
STARTS = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2025, 1, 15, 10, tzinfo=UTC),
          datetime(2999, 12, 31, 0, 0, 0, 1000, tzinfo=UTC),
          datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC))
DAY = bounds.MAX_WINDOW_MS
SLACK = bounds.WINDOW_SLACK_MS
FIXTURES = [HealthCheck.function_scoped_fixture]


def test_the_browser_client_states_the_wire_layers_bounds() -> None:
    stated = {name: int(value) for name, value in re.findall(
        r"^const (MAX_\w+|WINDOW_SLACK_MS) = (\d+);$", CLIENT.read_text(), flags=re.M)
        if name != "MAX_PENDING_WINDOWS"}  # the client's own queue bound
    assert stated == {name: getattr(bounds, name) for name in (
        "MAX_WINDOW_MS", "WINDOW_SLACK_MS", "MAX_XP", "MAX_COUNT", "MAX_PCT",
        "MAX_RUN_KEY_CHARS")}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with closing(offline_client(tmp_path / "outbox.sqlite3")) as opened:
        yield opened


def platform_accepts(event: dict[str, Any]) -> bool:
    body = envelope("https://app.example.com", [event], datetime(2025, 1, 15, tzinfo=UTC))
    try:
        parse_envelope(json.dumps(body).encode())
    except CaliperError:
        return False
    return True


def queued(client: Client, run_id: str) -> dict[str, Any]:
    [event] = [e for e in (row.event() for row in client.pending())
               if e["extensions"]["runId"] == run_id]
    return event


def actor() -> dict[str, Any]:
    return Learner("student@example.edu").actor("https://app.example.com")


@settings(max_examples=80, deadline=None, suppress_health_check=FIXTURES)
@given(start=st.sampled_from(STARTS),
       span=st.sampled_from((0, 1, 10_000, DAY - 1, DAY, DAY + 1, -1)),
       elapsed=st.sampled_from((0, 1, 10_000, DAY, DAY + 1)),
       paused=st.sampled_from((0, SLACK, SLACK + 1, 10_000, DAY)))
def test_a_heartbeat_the_adapter_accepts_is_an_event_the_platform_accepts(
        client: Client, start: datetime, span: int, elapsed: int, paused: int) -> None:
    end = start + timedelta(milliseconds=span)
    run_id = str(uuid.uuid4())
    body = {"id": "fractions-1", "name": "Fractions 1", "course": COURSE, "runId": run_id,
            "startedAt": format_utc(start), "endedAt": format_utc(end), "elapsedMs": elapsed,
            "pausedMs": paused}
    reply = WebAdapter(client).handle("heartbeat", LEARNER, json.dumps(body).encode())
    equivalent = time_spent_event(actor=actor(), activity=activity(), run_id=run_id,
                                  started_at=start, ended_at=end, active_ms=elapsed,
                                  inactive_ms=paused)
    assert reply.status in (204, 400), reply
    assert (reply.status == 204) == platform_accepts(equivalent), reply
    if reply.status == 204:
        assert platform_accepts(queued(client, run_id))


@settings(max_examples=80, deadline=None, suppress_health_check=FIXTURES)
@given(xp=st.sampled_from((0, -3, bounds.MAX_XP, -bounds.MAX_XP, bounds.MAX_XP + 0.001,
                           -bounds.MAX_XP - 0.001, 1e308, 9.3e15)),
       total=st.sampled_from((None, 0, bounds.MAX_COUNT, bounds.MAX_COUNT + 1)),
       units=st.sampled_from((None, 0, bounds.MAX_COUNT, bounds.MAX_COUNT + 1)),
       pct=st.sampled_from((None, 0, 100, 100.001, -0.001)),
       ended=st.sampled_from((*STARTS, datetime(3000, 1, 1, tzinfo=UTC))))
def test_a_completion_the_adapter_accepts_is_an_event_the_platform_accepts(
        client: Client, xp: float, total: int | None, units: int | None, pct: float | None,
        ended: datetime) -> None:
    run_id = str(uuid.uuid4())
    metrics: dict[str, Any] = {"xpEarned": xp}
    if total is not None:
        metrics.update(totalQuestions=total, correctQuestions=total)
    if units is not None:
        metrics["masteredUnits"] = units
    body: dict[str, Any] = {"id": "fractions-1", "name": "Fractions 1", "course": COURSE,
                            "runId": run_id, "endedAt": format_utc(ended), "metrics": metrics}
    if pct is not None:
        body["pctComplete"] = pct
    reply = WebAdapter(client).handle("submit", LEARNER, json.dumps(body).encode())
    equivalent = completed_event(
        actor=actor(), activity=activity(), run_id=run_id, ended_at=ended,
        metrics=Metrics(xp_earned=xp, total_questions=total, correct_questions=total,
                        mastered_units=units, pct_complete=pct))
    assert reply.status in (204, 400), reply
    assert (reply.status == 204) == platform_accepts(equivalent), reply
    if reply.status == 204:
        assert platform_accepts(queued(client, run_id))
