"""The compiled screen and the full rules agree: whatever the screen accepts, the full rules accept
and read the same way; and the screen accepts the plain Timeback traffic it exists for."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.shared import (
    CALIPER_FIXTURES,
    TIMEBACK_FIXTURES,
    require_shared,
    timeback_envelope_names,
)
from timeledger.caliper import conformance
from timeledger.caliper.bounds import MAX_RUN_KEY_CHARS
from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    activity_url,
    completed_event,
    envelope,
    time_spent_event,
)
from timeledger.caliper.core.values import REMEMBERED_CHARS
from timeledger.caliper.envelope import DEFAULT_MAX_EVENTS, Envelope, parse_envelope
from timeledger.caliper.errors import CaliperError
from timeledger.caliper.metrics import Metrics
from timeledger.caliper.screen import read_envelope, screen_envelope, screen_stored_text
from timeledger.caliper.timeback import TimebackFacts, facts_of, parse_timeback_event
from timeledger.cli.conformance import fixture_body

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast

SENSOR = "https://screen.example.com"
MAX = 1000


def full(raw: bytes) -> Envelope | None:
    try:
        return parse_envelope(raw, MAX)
    except CaliperError:
        return None


def assert_events_agree(raw: bytes) -> list[TimebackFacts | None]:
    """Event by event (the projector's fast path): the screen declines, or gives the facts the
    full rules' model gives."""
    try:
        data = orjson.loads(raw).get("data")
    except (orjson.JSONDecodeError, AttributeError):
        return []
    found: list[TimebackFacts | None] = []
    for item in data if isinstance(data, list) else []:
        facts = screen_stored_text(orjson.dumps(item))
        if facts is not None:
            try:
                model = parse_timeback_event(item, "data[0]")
            except CaliperError as exc:
                raise AssertionError(f"the screen took what the full rules refuse: {exc}") from exc
            assert facts == facts_of(model)
        found.append(facts)
    return found


def assert_agree(raw: bytes) -> Envelope | None:
    """The screen's verdict is either 'decline' or exactly the full rules' reading; and so is
    each event's."""
    events = assert_events_agree(raw)
    screened = screen_envelope(raw, MAX)
    if screened is not None:
        assert None not in events, "an event of a screened envelope was declined alone"
    if screened is not None:
        checked = full(raw)
        assert checked is not None, "the screen accepted what the full rules refuse"
        assert (screened.sensor, screened.send_time, screened.data_version, screened.data,
                screened.refs) == (checked.sensor, checked.send_time, checked.data_version,
                                   checked.data, checked.refs)
    return screened


@pytest.mark.parametrize("name", timeback_envelope_names() or ["absent"])
def test_every_timeback_fixture_passes_the_screen_as_the_full_rules_read_it(name: str) -> None:
    require_shared()
    raw = (TIMEBACK_FIXTURES / name).read_bytes()
    assert assert_agree(raw) is not None, f"{name}: plain Timeback traffic must take the screen"


def _conformance_files() -> list[Path]:
    return sorted(p for sub in ("valid", "invalid") if (CALIPER_FIXTURES / sub).is_dir()
                  for p in (CALIPER_FIXTURES / sub).iterdir()
                  if p.is_file() and p.name != conformance.ENDPOINT_CONFIG_FILE)


def test_no_ims_conformance_case_is_read_differently() -> None:
    require_shared()
    files = _conformance_files()
    assert len(files) > 400
    for path in files:  # core Caliper items are the full rules' to judge: the screen declines
        assert assert_agree(fixture_body(path)) is None, path.name


# --- generated envelopes: plain Timeback events, then mutated at and past every rule -------------

REF = ActivityRef(url=activity_url(SENSOR, "f1", subject="Math", grade=3), name="F1",
                  subject="Math", app_name="App", course_id="math-3", course_name="Math G3")
START = datetime(2025, 3, 3, 9, tzinfo=UTC)


def _heartbeat() -> dict[str, Any]:
    return time_spent_event(actor=Learner("Ada@Example.edu", "ada").actor(SENSOR), activity=REF,
                            run_id=str(uuid.uuid4()), started_at=START,
                            ended_at=START + timedelta(seconds=15), active_ms=12_000,
                            inactive_ms=3_000)


def _completion() -> dict[str, Any]:
    return completed_event(actor=Learner("ada@example.edu", "ada").actor(SENSOR), activity=REF,
                           run_id=str(uuid.uuid4()), ended_at=START,
                           metrics=Metrics(xp_earned=3, total_questions=4, correct_questions=3,
                                           mastered_units=1, pct_complete=40), attempt=2)


# Values that sit at, just inside or just past a rule, or are of the wrong kind.
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 1, 0.5, 86_400, 86_400.001, 1_000_000, 1_000_001, -1_000_000, -1_000_001,
    100, 100.5, 2**63, 1e308, "", "x", "urn:uuid:" + str(uuid.uuid4()), "mailto:a@b.c",
    "a@b", "a b@c", "https://example.com/x", "not an iri", "2025-03-03T09:00:15.000Z",
    "2025-03-03T09:00:15Z", "2025-03-03T09:00:15.000+00:00", "1969-12-31T23:59:59.999Z",
    "2999-12-31T23:59:59.999Z", "3000-01-01T00:00:00.000Z", "2025-03-04T09:00:15.000Z",
    "2025-02-30T09:00:00.000Z", [], {}, {"nested": {"deep": 1}}, ["x"], "Math", "Science",
    "active", "inactive", "waste", "xpEarned", "totalQuestions", "TimebackProfile", "nul\x00",
    "http://purl.imsglobal.org/ctx/caliper/v1p2", "k" * MAX_RUN_KEY_CHARS,
    "k" * (MAX_RUN_KEY_CHARS + 1), "tab\tkey",
    # IRIs, ids and addresses the remembering checks (values.py) and msgspec's pattern must judge
    # as the rules do: non-ASCII, Unicode whitespace, excluded characters, past the bounds
    "https://example.com/caf\u00e9", "https://example.com/a\u00a0b", "https://example.com/\x85",
    "https://example.com/{x}", "https://example.com/\x7f", "https://example.com/a\nb",
    "https://example.com/" + "a" * 1980, "https://example.com/" + "a" * 1981,
    "urn:uuid:" + str(uuid.uuid4()).upper(), "urn:uuid:" + str(uuid.uuid4()) + "\n",
    "URN:uuid:" + str(uuid.uuid4()), "urn:uuid:" + str(uuid.uuid4())[:-1] + "g",
    "Ada@Example.EDU", "a@b\n", "a" * 308 + "@example.edu", "a" * 309 + "@example.edu",
    # times at the edges of parse_utc, and window values as integers and as floats
    "2025-03-03T09:00:15.000+0000", "2025-03-03T09:00:15.000Z\n", "2025-03-03T09:00:00.000Z",
    "2025-03-03T09:00:15.123456789Z", "2025-03-03T09:00:15.1234567890Z", "2025-03-03t09:00:15Z",
    "2025-03-04T09:00:00.000Z", "2025-03-04T09:00:00.001Z", 12, 12.0, 15, 15.0, 15.001,
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated_envelopes(draw: st.DrawFn) -> bytes:
    events = draw(st.lists(st.sampled_from(("time", "completion")), min_size=1, max_size=3))
    body = envelope(SENSOR, [_heartbeat() if kind == "time" else _completion()
                             for kind in events], START)
    for _ in range(draw(st.integers(0, 3))):
        paths = [p for p in _paths(body) if p]
        if draw(st.booleans()):  # the metrics and time items hold most of the rules
            paths = [p for p in paths if "generated" in p] or paths
        path = draw(st.sampled_from(paths))
        parent = body
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(("set", "delete", "add")))
        if action == "delete" and isinstance(parent, dict):
            parent.pop(path[-1])
        elif action == "add" and isinstance(parent, dict):
            key = draw(st.sampled_from(("extra", "startDate", "endDate", "attempt", "name",
                                        "extensions", "session", "role", "runKey")))
            parent[key] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
        else:
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
    return orjson.dumps(body)


@settings(max_examples=1500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated_envelopes())
def test_generated_envelopes_are_read_the_same_or_declined(raw: bytes) -> None:
    assert_agree(raw)


def test_plain_envelopes_take_the_screen_and_a_declined_one_gets_the_full_errors() -> None:
    plain = orjson.dumps(envelope(SENSOR, [_heartbeat(), _completion()], START))
    assert assert_agree(plain) is not None
    assert read_envelope(plain).refs[0].learner_email == "ada@example.edu"
    broken = json.loads(plain)
    broken["data"][1]["generated"]["items"][0]["value"] = 1_000_001
    with pytest.raises(CaliperError) as caught:
        read_envelope(json.dumps(broken).encode())
    assert caught.value.problems[0].path == "data[1].generated.items[0].value"


def test_a_run_key_past_its_bounds_is_declined_by_the_screen_and_named_by_the_full_rules(
) -> None:
    body = envelope(SENSOR, [_heartbeat()], START)
    body["data"][0]["extensions"]["runKey"] = "k" * (MAX_RUN_KEY_CHARS + 1)
    raw = orjson.dumps(body)
    assert screen_envelope(raw, DEFAULT_MAX_EVENTS) is None
    with pytest.raises(CaliperError) as caught:
        read_envelope(raw)
    assert caught.value.problems[0].path == "data[0].extensions.runKey"


def test_long_time_texts_are_declined_so_the_time_memo_keeps_short_keys() -> None:
    from timeledger.caliper import screen

    body = envelope(SENSOR, [_heartbeat()], START)
    item = body["data"][0]["generated"]["items"][0]
    item["subType"] = "s" * (screen.SCREENED_TEXT_CHARS + 1)
    raw = orjson.dumps(body)
    assert screen_envelope(raw, MAX) is None
    assert full(raw) is not None  # the full rules still take it, by the slow path
    item["subType"] = "s" * screen.SCREENED_TEXT_CHARS
    assert assert_agree(orjson.dumps(body)) is not None


def test_long_party_texts_are_declined_so_the_party_memo_keeps_short_keys() -> None:
    for at in (("actor", "name"), ("object", "app", "name"), ("object", "course", "name")):
        body = envelope(SENSOR, [_heartbeat()], START)
        parent = body["data"][0]
        for part in at[:-1]:
            parent = parent[part]
        parent[at[-1]] = "n" * (REMEMBERED_CHARS + 1)
        raw = orjson.dumps(body)
        assert screen_envelope(raw, MAX) is None, at
        assert full(raw) is not None  # the full rules still take it, by the slow path
        parent[at[-1]] = "n" * REMEMBERED_CHARS
        assert assert_agree(orjson.dumps(body)) is not None, at


def test_each_actor_and_activity_gets_its_own_remembered_facts() -> None:
    """The party memo is keyed by the whole actor and activity: events that share their ids but
    not their names, address or course each read as the full rules read them."""
    first = _heartbeat()
    first["extensions"].pop("courseId")  # the course's ref gives the course id
    variants = [first]
    for path, value in ((("actor", "name"), "Another Name"), (("actor", "email"), "AD@example.edu"),
                        (("object", "activity", "name"), "F2"),
                        (("object", "course", "id"), f"{SENSOR}/courses/2"),
                        (("object", "app", "name"), "Another App")):
        event = copy.deepcopy(first)
        parent = event
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = value
        variants.append(event)
    seen = set()
    for event in variants:
        facts = screen_stored_text(orjson.dumps(event))
        assert facts is not None
        assert facts == facts_of(parse_timeback_event(event, "data[0]"))
        seen.add((facts.actor_name, facts.learner_email, facts.activity_name, facts.course_id,
                  facts.app_name))
    assert len(seen) == len(variants)


def test_the_time_party_and_ref_memos_keep_their_bounds() -> None:
    from timeledger.caliper import screen

    for n in range(max(screen.MAX_REMEMBERED_WINDOWS, screen.MAX_REMEMBERED_PARTIES) + 10):
        body = envelope(SENSOR, [_heartbeat()], START)
        body["data"][0]["generated"]["items"][0]["value"] = n / 1000
        body["data"][0]["extensions"]["runId"] = f"run-{n}"
        body["data"][0]["actor"]["id"] = f"{SENSOR}/users/{n}"
        assert screen_envelope(orjson.dumps(body), MAX) is not None
    assert screen._plain_time.cache_info().currsize == screen.MAX_REMEMBERED_WINDOWS
    assert screen._checked_party.cache_info().currsize == screen.MAX_REMEMBERED_PARTIES
    assert screen._remembered_ref.cache_info().currsize == screen.MAX_REMEMBERED_REFS
    body["data"][0]["extensions"]["runId"] = "r" * (MAX_RUN_KEY_CHARS + 1)
    before = screen._remembered_ref.cache_info()
    screened = screen_envelope(orjson.dumps(body), MAX)
    assert screened is not None and screened.refs[0].run_id == "r" * (MAX_RUN_KEY_CHARS + 1)
    after = screen._remembered_ref.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)
