"""The wire layer's bounds (docs/bounds.md), each at its limit (accepted) and just past (refused,
naming the exact property)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.events import completion, heartbeat, wrap
from timeledger.caliper import CaliperError, facts_of, parse_envelope
from timeledger.caliper.bounds import event_window
from timeledger.caliper.envelope import DEFAULT_MAX_EVENTS
from timeledger.caliper.screen import screen_envelope
from timeledger.caliper.times import TimeFormatError, format_utc, parse_utc

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast

RUN = "3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10"
T0 = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)


def problem_of(envelope: dict[str, Any]) -> tuple[str, str] | None:
    """(path, message) of the first problem, or None when the envelope is accepted; ingest's
    compiled screen accepts it exactly when the full rules do."""
    raw = json.dumps(envelope).encode()
    screened = screen_envelope(raw, DEFAULT_MAX_EVENTS) is not None
    try:
        parse_envelope(raw)
    except CaliperError as exc:
        assert not screened
        return exc.problems[0].path, exc.problems[0].message
    assert screened or any(item.get("type") not in ("ActivityEvent", "TimeSpentEvent")
                           for item in envelope["data"])  # the screen declines core items
    return None


def path_of(envelope: dict[str, Any]) -> str | None:
    found = problem_of(envelope)
    return None if found is None else found[0]


def window(active_s: float, inactive_s: float = 0, start: str = "2025-01-15T10:00:00.000Z",
           end: str = "2025-01-15T10:00:10.000Z") -> dict[str, Any]:
    """A heartbeat whose items carry the window `start..end`."""
    event = heartbeat("a@example.edu", RUN, T0, 1, 1)
    items = [{"type": "active", "value": active_s, "startDate": start, "endDate": end}]
    if inactive_s:
        items.append({"type": "inactive", "value": inactive_s, "startDate": start, "endDate": end})
    event["generated"]["items"] = items
    event["eventTime"] = end
    return event


# --- years --------------------------------------------------------------------------------------

@pytest.mark.parametrize("moment", ["1970-01-01T00:00:00.000Z", "2999-12-31T23:59:59.999Z"])
def test_years_at_the_bounds_are_read(moment: str) -> None:
    assert format_utc(parse_utc(moment)) == moment


@pytest.mark.parametrize("moment", ["1969-12-31T23:59:59.999Z", "3000-01-01T00:00:00.000Z",
                                    "0500-06-01T12:00:00.000Z", "0001-01-01T00:00:00.000Z",
                                    "9999-12-31T23:59:59.999Z"])
def test_years_past_the_bounds_are_refused(moment: str) -> None:
    with pytest.raises(TimeFormatError, match="Expected a year from 1970 to 2999"):
        parse_utc(moment)


@pytest.mark.parametrize(("year", "text"), [(1, "0001"), (500, "0500"), (999, "0999"),
                                            (2025, "2025")])
def test_format_utc_always_writes_four_digit_years(year: int, text: str) -> None:
    assert format_utc(datetime(year, 6, 1, 12, tzinfo=UTC)) == f"{text}-06-01T12:00:00.000Z"


@pytest.mark.parametrize(("where", "moment", "path"), [
    ("eventTime", "0500-06-01T12:00:00.000Z", "data[0].eventTime"),
    ("eventTime", "1969-12-31T23:59:59.999Z", "data[0].eventTime"),
    ("eventTime", "3000-01-01T00:00:00.000Z", "data[0].eventTime"),
    ("sendTime", "9999-12-31T23:59:59.999Z", "sendTime"),
    ("sendTime", "1969-12-31T23:59:59.999Z", "sendTime"),
    ("startDate", "1969-12-31T23:59:59.999Z", "data[0].generated.items[0].startDate"),
    ("endDate", "3000-01-01T00:00:00.000Z", "data[0].generated.items[0].endDate"),
])
def test_times_past_the_year_bounds_name_the_property(where: str, moment: str,
                                                      path: str) -> None:
    event = window(1)
    body = wrap(event)
    if where == "sendTime":
        body["sendTime"] = moment
    elif where == "eventTime":
        event["eventTime"] = moment
    else:
        event["generated"]["items"][0][where] = moment
    assert path_of(body) == path


def test_year_bounds_apply_to_core_events_too() -> None:
    """A core Caliper event's eventTime is indexed by the platform, so it is bounded as well."""
    core = {"@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
            "id": "urn:uuid:5e3f0e5c-2d4b-4d2e-9f6a-3c1b2a1d0e9f", "type": "Event",
            "actor": "https://example.edu/users/1", "action": "Started",
            "object": "https://example.edu/things/1", "eventTime": "0001-01-01T00:00:00.000Z"}
    core["action"] = "Created"
    assert path_of(wrap(core)) == "data[0].eventTime"
    core["eventTime"] = "2025-01-15T10:00:00.000Z"
    assert path_of(wrap(core)) is None


def test_date_properties_the_platform_only_stores_may_name_any_year() -> None:
    """A book published in 1865 is honest; only the times the platform reads are bounded."""
    entity = {"@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
              "id": "https://example.edu/books/alice", "type": "Document",
              "datePublished": "1865-11-26T00:00:00.000Z"}
    assert path_of(wrap(entity)) is None


# --- one window of at most a day ---------------------------------------------------------------

def test_a_window_of_exactly_a_day_is_accepted() -> None:
    event = window(86_400, 0, "2025-01-15T10:00:00.000Z", "2025-01-16T10:00:00.000Z")
    assert problem_of(wrap(event)) is None


def test_a_window_a_millisecond_past_a_day_is_refused_at_its_end() -> None:
    event = window(1, 0, "2025-01-15T10:00:00.000Z", "2025-01-16T10:00:00.001Z")
    assert problem_of(wrap(event)) == (
        "data[0].generated.items[0].endDate",
        "A window may span at most 24 hours; this one spans 86400001 ms")


def test_a_backwards_window_is_refused_at_its_end() -> None:
    event = window(1, 0, "2025-01-15T10:00:00.001Z", "2025-01-15T10:00:00.000Z")
    assert path_of(wrap(event)) == "data[0].generated.items[0].endDate"


def test_items_whose_windows_together_span_more_than_a_day_are_refused() -> None:
    event = window(1, 1)
    event["generated"]["items"][0]["startDate"] = "2025-01-14T10:00:00.000Z"
    event["generated"]["items"][0]["endDate"] = "2025-01-14T10:00:10.000Z"
    assert path_of(wrap(event)) == "data[0].generated.items[1].endDate"


def test_a_start_without_an_end_is_a_window_up_to_the_event_time() -> None:
    event = window(1)
    del event["generated"]["items"][0]["endDate"]
    event["eventTime"] = "2025-01-16T10:00:00.000Z"
    assert path_of(wrap(event)) is None
    event["eventTime"] = "2025-01-16T10:00:00.001Z"
    assert path_of(wrap(event)) == "data[0].eventTime"


# --- time within its window --------------------------------------------------------------------

@pytest.mark.parametrize(("active", "inactive", "path"), [
    (10, 1, None),  # the window's 10 s plus the 1 s slack
    (11, 0, None),
    (11.001, 0, "data[0].generated.items[0].value"),
    (10, 1.001, "data[0].generated.items[1].value"),
    (0, 11.001, "data[0].generated.items[1].value"),
])
def test_time_may_exceed_its_window_by_one_second_at_most(active: float, inactive: float,
                                                          path: str | None) -> None:
    event = window(active, inactive)
    if not inactive:
        event["generated"]["items"].append({"type": "inactive", "value": 0})
    assert path_of(wrap(event)) == path


def test_the_issue_s_inflated_window_is_refused() -> None:
    """Active 86,400 s plus inactive 86,400 s between 10:00:00.000 and 10:00:00.001."""
    event = window(86_400, 86_400, "2025-01-15T10:00:00.000Z", "2025-01-15T10:00:00.001Z")
    assert problem_of(wrap(event)) == (
        "data[0].generated.items[0].value",
        "Time may total at most the window's length plus 1000 ms (1001 ms here)")


def test_every_time_item_counts_towards_the_window() -> None:
    event = window(5, 5)
    event["generated"]["items"].append({"type": "waste", "value": 1.001})
    assert path_of(wrap(event)) == "data[0].generated.items[2].value"
    event["generated"]["items"][2]["value"] = 1
    assert path_of(wrap(event)) is None


@pytest.mark.parametrize(("values", "path"), [
    ((86_400, 0), None),
    ((43_200, 43_200), None),
    ((43_200, 43_200.001), "data[0].generated.items[1].value"),
    ((86_400, 0.001), "data[0].generated.items[1].value"),
])
def test_time_without_a_start_totals_a_day_at_most(values: tuple[float, float],
                                                   path: str | None) -> None:
    event = heartbeat("a@example.edu", RUN, T0, 1)
    event["generated"]["items"] = [{"type": "active", "value": values[0]},
                                   {"type": "inactive", "value": values[1]}]
    assert path_of(wrap(event)) == path
    if path is None:
        facts = facts_of(parse_envelope(json.dumps(wrap(event)).encode()).timeback[0])
        assert (facts.window_start, facts.window_end) == (None, None)


# --- XP, counts, pctComplete, attempt ----------------------------------------------------------

def completed(xp: float = 1, total: int | None = None, correct: int | None = None,
              **generated: Any) -> dict[str, Any]:
    event = completion("a@example.edu", RUN, T0, xp, total, correct)
    event["generated"].update(generated)
    return event


@pytest.mark.parametrize(("xp", "path"), [
    (1_000_000, None), (-1_000_000, None), (999_999.999, None),
    (1_000_000.001, "data[0].generated.items[0].value"),
    (-1_000_000.001, "data[0].generated.items[0].value"),
    (1e308, "data[0].generated.items[0].value"),
    (9.3e15, "data[0].generated.items[0].value"),
    (5e15, "data[0].generated.items[0].value"),
])
def test_xp_lies_within_a_million_either_way(xp: float, path: str | None) -> None:
    assert path_of(wrap(completed(xp))) == path


@pytest.mark.parametrize(("total", "correct", "path"), [
    (1_000_000, 1_000_000, None),
    (0, 0, None),
    (1_000_001, 0, "data[0].generated.items[1].value"),
    (1_000_001, 1_000_001, "data[0].generated.items[1].value"),
])
def test_question_counts_lie_within_a_million(total: int, correct: int,
                                              path: str | None) -> None:
    assert path_of(wrap(completed(1, total, correct))) == path


@pytest.mark.parametrize(("units", "path"), [
    (1_000_000, None), (1_000_001, "data[0].generated.items[1].value")])
def test_mastered_units_lie_within_a_million(units: int, path: str | None) -> None:
    event = completed()
    event["generated"]["items"].append({"type": "masteredUnits", "value": units})
    assert path_of(wrap(event)) == path


@pytest.mark.parametrize(("pct", "path"), [
    (0, None), (100, None), (100.001, "data[0].generated.extensions.pctCompleteApp"),
    (-0.001, "data[0].generated.extensions.pctCompleteApp")])
def test_pct_complete_lies_within_0_100(pct: float, path: str | None) -> None:
    assert path_of(wrap(completed(extensions={"pctCompleteApp": pct}))) == path


@pytest.mark.parametrize(("attempt", "path"), [
    (1, None), (1_000_000, None), (1_000_001, "data[0].generated.attempt"),
    (2**70, "data[0].generated.attempt")])
def test_attempt_lies_within_a_million(attempt: int, path: str | None) -> None:
    assert path_of(wrap(completed(attempt=attempt))) == path


def test_a_time_event_s_window_is_its_items_earliest_start_to_their_latest_end() -> None:
    t = [T0 + timedelta(seconds=s) for s in range(4)]
    # the end named is the first item holding the latest end; items without dates add nothing
    assert event_window([(t[1], t[2]), (None, t[3]), (t[0], None), (t[2], t[3])], T0) == (
        t[0], t[3], 1)
    assert event_window([(t[2], None), (t[1], None)], t[3]) == (t[1], t[3], None)  # eventTime
    assert event_window([(None, None)], t[3]) == (None, t[3], None)
    assert event_window([], t[3]) == (None, t[3], None)
