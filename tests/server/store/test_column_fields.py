"""store/column_fields.py: what a packed body leaves out, and that putting it back rebuilds the
text byte for byte, for the SDK's events, the official fixtures and bodies of any shape."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.server.store.test_compaction import _fixture_items
from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    activity_url,
    completed_event,
    generated_id,
    time_spent_event,
)
from timeledger.caliper.metrics import Metrics
from timeledger.server.store.column_fields import (
    BODY_BITS,
    COLUMN_BITS,
    GENERATED_ID,
    ITEM_DATES,
    put_back,
    take_out,
)
from timeledger.server.store.event_bodies import TAKEN_OUT, event_body

SENSOR = "https://fields.example.com"
REF = ActivityRef(url=activity_url(SENSOR, "fractions", subject="Math", grade=3), name="Fractions",
                  subject="Math", app_name="Fields", course_id="math-3", course_name="Math 3")
STARTED = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
ENDED = STARTED + timedelta(seconds=15)
RUN = str(uuid.UUID(int=7))


@dataclass(frozen=True)
class Row:
    """The columns a packed body may leave out, as readers see them."""

    event_id: str
    event_time: datetime | None
    actor_id: str | None
    learner_email: str | None
    run_id: str | None


def _row_of(event: Any) -> Row:
    """The columns the store would give for `event` (where it has the fields to give them)."""
    event = event if isinstance(event, dict) else {}
    actor = event.get("actor") if isinstance(event.get("actor"), dict) else {}
    extensions = event.get("extensions") if isinstance(event.get("extensions"), dict) else {}
    time = event.get("eventTime")
    run = extensions.get("runId")
    return Row(event_id=str(event.get("id")),
               event_time=datetime.fromisoformat(time) if isinstance(time, str) else None,
               actor_id=actor.get("id") if isinstance(actor.get("id"), str) else None,
               learner_email=actor.get("email") if isinstance(actor.get("email"), str) else None,
               run_id=run if isinstance(run, str) else None)


def _heartbeat() -> dict[str, Any]:
    return time_spent_event(actor=Learner("ada@example.edu", "ada").actor(SENSOR), activity=REF,
                            run_id=RUN, started_at=STARTED, ended_at=ENDED, active_ms=10_000,
                            inactive_ms=5_000)


def _round_trip(event: Any, row: Row | None = None) -> tuple[int, Any]:
    """take_out then put_back, checked byte for byte; the mask and the JSON left (parsed)."""
    text = orjson.dumps(event)
    row = row or _row_of(event)
    taken = take_out(text, row)
    if taken is None:
        return 0, event
    mask, left = taken
    assert put_back(mask, left, row) == text
    return mask, orjson.loads(left)


def test_an_sdk_heartbeat_leaves_out_its_generated_id_and_its_items_dates() -> None:
    event = _heartbeat()
    mask, left = _round_trip(event)
    assert mask == COLUMN_BITS | GENERATED_ID | ITEM_DATES == 0xFF
    assert left["generated"]["id"] == 0
    assert left["generated"]["items"] == [
        {"type": "active", "value": 10.0, "startDate": "2025-03-03T08:00:00.000Z", "endDate": 0},
        {"type": "inactive", "value": 5.0, "startDate": 0, "endDate": 0}]
    assert event["generated"]["id"] == generated_id(event["id"])  # what was left out


def test_an_sdk_completion_leaves_out_its_generated_id() -> None:
    event = completed_event(actor=Learner("ada@example.edu", "ada").actor(SENSOR), activity=REF,
                            run_id=RUN, ended_at=ENDED,
                            metrics=Metrics(xp_earned=10, total_questions=5, correct_questions=4))
    mask, left = _round_trip(event)
    assert mask == COLUMN_BITS | GENERATED_ID  # its items carry no dates
    assert left["generated"]["id"] == 0


def test_a_generated_id_other_than_the_derived_one_stays() -> None:
    event = _heartbeat()
    event["generated"]["id"] = "urn:uuid:" + str(uuid.UUID(int=5))
    mask, left = _round_trip(event)
    assert not mask & GENERATED_ID
    assert left["generated"]["id"] == event["generated"]["id"]
    other = _heartbeat()  # derived, but from another id than the event's
    other["generated"]["id"] = generated_id("urn:uuid:" + str(uuid.UUID(int=6)))
    assert not _round_trip(other)[0] & GENERATED_ID


def test_the_generated_id_is_derived_from_any_text_id() -> None:
    for own in ("urn:uuid:ABCDEF00-0000-4000-8000-000000000000", "https://x.example/e/1", "",
                "é ∑ \u2028 \"quoted\""):
        event = {"id": own, "generated": {"id": generated_id(own), "type": "X"}}
        mask, left = _round_trip(event, Row(own, None, None, None, None))
        assert mask == 1 | GENERATED_ID and left == {"id": 0, "generated": {"id": 0, "type": "X"}}


def test_only_the_dates_equal_to_their_source_are_left_out() -> None:
    event = _heartbeat()
    items = event["generated"]["items"]
    items[0]["endDate"] = "2025-03-03T08:00:14.000Z"  # not eventTime
    items[1]["startDate"] = "2025-03-03T08:00:01.000Z"  # not the first item's
    items.append({"type": "extra", "value": 1.0, "startDate": items[0]["startDate"],
                  "endDate": "2025-03-03T08:00:15Z"})  # eventTime in another writing
    mask, left = _round_trip(event)
    assert mask & ITEM_DATES
    assert [(item["startDate"], item["endDate"]) for item in left["generated"]["items"]] == [
        ("2025-03-03T08:00:00.000Z", "2025-03-03T08:00:14.000Z"),
        ("2025-03-03T08:00:01.000Z", 0),
        (0, "2025-03-03T08:00:15Z")]


def test_the_dates_stay_when_the_event_time_was_not_taken_out_but_equal_them() -> None:
    """endDate's source is the body's eventTime, whether the column gives it or not."""
    event = _heartbeat()
    event["eventTime"] = event["generated"]["items"][0]["endDate"] = "2025-03-03T08:00:15Z"
    mask, left = _round_trip(event)
    assert not mask & 0b10 and mask & ITEM_DATES
    assert left["eventTime"] == "2025-03-03T08:00:15Z"
    assert left["generated"]["items"][0]["endDate"] == 0


@pytest.mark.parametrize("zero_at", [("endDate", 0), ("endDate", 1), ("startDate", 1)])
def test_a_zero_of_its_own_at_a_date_keeps_every_date(zero_at: tuple[str, int]) -> None:
    """A 0 there would read as left out: the items' dates are then all kept."""
    key, index = zero_at
    event = _heartbeat()
    event["generated"]["items"][index][key] = 0
    mask, left = _round_trip(event)
    assert mask == COLUMN_BITS | GENERATED_ID
    assert left["generated"]["items"] == event["generated"]["items"]


def test_values_that_only_compare_equal_to_zero_are_not_taken_for_it() -> None:
    event = _heartbeat()
    items = event["generated"]["items"]
    items[0]["endDate"], items[1]["startDate"] = False, 0.0
    items.append({"type": "extra", "endDate": event["eventTime"]})
    mask, left = _round_trip(event)
    assert mask & ITEM_DATES
    assert [item.get("startDate") for item in left["generated"]["items"]] == [
        items[0]["startDate"], 0.0, None]
    assert [item["endDate"] for item in left["generated"]["items"]] == [False, 0, 0]


def test_the_first_items_start_date_is_never_left_out() -> None:
    event = _heartbeat()
    event["generated"]["items"][0]["startDate"] = event["eventTime"]
    left = _round_trip(event)[1]
    assert left["generated"]["items"][0]["startDate"] == event["eventTime"]


@pytest.mark.parametrize("items", [
    ["first", {"type": "active", "startDate": "2025-03-03T08:00:00.000Z",
               "endDate": "2025-03-03T08:00:15.000Z"}, 5, None, []],
    [{"type": "active"}, {"type": "inactive", "startDate": "2025-03-03T08:00:00.000Z"}],
    [{"type": "active", "startDate": 7}, {"type": "inactive", "startDate": 7}],
    [],
    "items",
    {"0": {"endDate": "2025-03-03T08:00:15.000Z"}},
])
def test_items_of_any_shape_read_back_as_they_were(items: Any) -> None:
    event = _heartbeat()
    event["generated"]["items"] = copy.deepcopy(items)
    mask, left = _round_trip(event)
    if isinstance(items, list) and len(items) > 1 and isinstance(items[1], dict) \
            and "endDate" in items[1]:  # the only date here with a source: eventTime
        assert mask & ITEM_DATES and left["generated"]["items"][1]["endDate"] == 0
    else:
        assert not mask & ITEM_DATES and left["generated"]["items"] == items


@pytest.mark.parametrize("change", [
    lambda e: e.pop("id"),  # no id to derive generated.id from
    lambda e: e.update(id=5),
    lambda e: e.pop("eventTime"),  # no source for endDate
    lambda e: e["generated"].pop("id"),
    lambda e: e["generated"].pop("items"),
    lambda e: e.update(generated="urn:uuid:" + str(uuid.UUID(int=3))),
    lambda e: e.update(generated=None),
    lambda e: e.pop("generated"),
])
def test_bodies_missing_what_a_field_is_rebuilt_from_read_back_as_they_were(change: Any) -> None:
    event = _heartbeat()
    row = _row_of(event)
    change(event)
    mask, left = _round_trip(event, row)
    if not isinstance(event.get("id"), str) or not isinstance(event.get("generated"), dict) \
            or "id" not in event["generated"]:
        assert not mask & GENERATED_ID
    if "eventTime" not in event:
        assert not mask & ITEM_DATES or all(
            item["endDate"] != 0 for item in left["generated"]["items"])


def test_every_official_fixture_reads_back_byte_for_byte() -> None:
    """The Timeback fixtures and the IMS conformance events, with the columns each would give."""
    items = _fixture_items()
    masks = [_round_trip(item)[0] for item in items]
    assert any(mask & COLUMN_BITS for mask in masks)
    # Their generated ids are not derived (ids made elsewhere), so they keep them.
    assert not any(mask & GENERATED_ID for mask in masks)


# --- any body -----------------------------------------------------------------------------------

ID = "urn:uuid:" + str(uuid.UUID(int=1))
OTHER_ID = "https://ids.example/2"
TIME = "2025-03-03T08:00:15.000Z"
START = "2025-03-03T08:00:00.000Z"
ROW = Row(ID, ENDED, None, None, None)
_dates = st.sampled_from([TIME, START, "2025-03-03T08:00:15Z", 0, 0.0, False, None, 1, "", [0]])
_item: st.SearchStrategy[Any] = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["active", "inactive"])},
                          optional={"startDate": _dates, "endDate": _dates,
                                    "value": st.integers(0, 3)}),
    st.sampled_from([0, "item", None, [], 1.5, {}]))
_generated = st.one_of(
    st.fixed_dictionaries({}, optional={
        "id": st.sampled_from([generated_id(ID), generated_id(OTHER_ID), ID, 0, None]),
        "type": st.just("TimebackTimeSpentMetricsCollection"),
        "items": st.one_of(st.lists(_item, max_size=4), st.sampled_from([0, "items", {}]))}),
    st.sampled_from([0, None, "generated", []]))
_events = st.fixed_dictionaries({}, optional={
    "id": st.sampled_from([ID, OTHER_ID, 0]),
    "eventTime": st.sampled_from([TIME, START, "2025-03-03T08:00:15Z", 0]),
    "generated": _generated,
    "session": st.just("urn:uuid:" + RUN)})


def _places(event: dict[str, Any]) -> list[tuple[int, str, Any, Any]]:
    """(item index, key, value, source) of each date ITEM_DATES covers, read plainly."""
    generated = event.get("generated")
    items = generated.get("items") if isinstance(generated, dict) else None
    if not isinstance(items, list) or not items:
        return []
    start = items[0].get("startDate") if isinstance(items[0], dict) else None
    return [(index, key, item[key], source)
            for index, item in enumerate(items) if isinstance(item, dict)
            for key, source in (("endDate", event.get("eventTime")), ("startDate", start))
            if key in item and (index or key == "endDate")]


@settings(max_examples=400, deadline=None)
@given(_events, st.permutations(["id", "eventTime", "generated", "session"]))
def test_any_body_reads_back_byte_for_byte_and_loses_exactly_what_is_rebuilt(
        event: dict[str, Any], order: list[str]) -> None:
    event = {key: event[key] for key in order if key in event}
    mask, left = _round_trip(event, ROW)
    generated = event.get("generated")
    derived = (isinstance(event.get("id"), str) and isinstance(generated, dict)
               and generated.get("id") == generated_id(event["id"]))
    assert bool(mask & GENERATED_ID) == derived
    places = _places(event)
    own_zero = any(type(value) is int and value == 0 for _, _, value, _ in places)
    equal = [(index, key) for index, key, value, source in places
             if isinstance(source, str) and value == source]
    assert bool(mask & ITEM_DATES) == (bool(equal) and not own_zero)
    if mask & ITEM_DATES:
        assert [(index, key) for index, key, value, _ in _places(left)
                if type(value) is int and value == 0] == equal


# --- the lead byte names the bits a mask may hold -------------------------------------------

@dataclass(frozen=True)
class PackedRow(Row):
    body: str
    packed: bytes | None


@pytest.mark.parametrize("mask", [GENERATED_ID, ITEM_DATES])
def test_a_mask_with_bits_its_lead_byte_does_not_allow_is_refused(mask: int) -> None:
    """0x01 leads only the columns' fields (older rows); 0x02 may hold every bit of its byte."""
    assert COLUMN_BITS | BODY_BITS == 0xFF
    row = PackedRow(ID, ENDED, None, None, None, body="",
                    packed=bytes((TAKEN_OUT, mask)) + b"\0")
    with sa.create_engine("sqlite://").connect() as conn, pytest.raises(
            ValueError, match="does not allow"):
        event_body(conn, row)
