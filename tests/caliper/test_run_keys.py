"""A runId of the app's own: its UUIDv5 under the sensor, its bounds, and extensions.runKey."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.support.shared import timeback_fixture
from timeledger.caliper import CaliperError, facts_of, parse_envelope
from timeledger.caliper.bounds import MAX_RUN_KEY_CHARS, run_key_problem
from timeledger.caliper.builders import RunRef, run_namespace, run_ref

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast

SENSOR = "https://app.example.com"


def test_a_key_becomes_uuid5_under_the_sensors_namespace() -> None:
    expected = uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, SENSOR), "assignment-row-981")
    assert run_ref("assignment-row-981", SENSOR) == RunRef(str(expected), "assignment-row-981")
    assert run_ref("assignment-row-981", SENSOR + "/") == run_ref("assignment-row-981", SENSOR)
    assert run_namespace(SENSOR) == uuid.uuid5(uuid.NAMESPACE_URL, SENSOR)
    assert run_ref("assignment-row-981", "https://other.example.com").id != str(expected)
    assert run_ref("assignment-row-982", SENSOR).id != str(expected)


@pytest.mark.parametrize("given", [
    "3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10", "3F0C6A52-9B1E-4C1E-8D3A-5B7F2F1E9A10",
    "urn:uuid:3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10",
    uuid.UUID("3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10"),
])
def test_a_uuid_is_unchanged_and_has_no_key(given: Any) -> None:
    assert run_ref(given, SENSOR) == RunRef("3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10")


@pytest.mark.parametrize(("key", "problem"), [
    ("a", None), ("x" * MAX_RUN_KEY_CHARS, None), ("row 981 / ü ✓", None),
    ("", "Expected a UUID or a non-blank string"),
    (" \u3000", "Expected a UUID or a non-blank string"),
    ("x" * (MAX_RUN_KEY_CHARS + 1), "Expected at most 256 characters; got 257"),
    ("row\x00981", "Expected printable characters only (no control characters such as NUL)"),
    ("row\t981", "Expected printable characters only (no control characters such as NUL)"),
    ("row\u2028981", "Expected printable characters only (no control characters such as NUL)"),
    ("row\u00a0981", "Expected printable characters only (no control characters such as NUL)"),
])
def test_key_bounds(key: str, problem: str | None) -> None:
    assert run_key_problem(key) == problem
    if problem is None:
        assert run_ref(key, SENSOR).key == key
    else:
        with pytest.raises(CaliperError) as caught:
            run_ref(key, SENSOR, field="runId")
        assert (caught.value.path, caught.value.problems[0].message) == ("runId", problem)


def with_run_key(value: Any) -> bytes:
    body = timeback_fixture("envelope-activity-completed.json")
    body["data"][0]["extensions"]["runKey"] = value
    return json.dumps(body).encode()


def test_the_platform_reads_the_run_key_into_the_facts() -> None:
    parsed = parse_envelope(with_run_key("assignment-row-981"))
    assert facts_of(parsed.timeback[0]).run_key == "assignment-row-981"
    plain = timeback_fixture("envelope-activity-completed.json")
    assert facts_of(parse_envelope(json.dumps(plain).encode()).timeback[0]).run_key is None


@pytest.mark.parametrize(("value", "message"), [
    ("x" * 257, "Expected at most 256 characters; got 257"),
    ("a\x01b", "Expected printable characters only (no control characters such as NUL)"),
    ("a\x00b", "Text may not contain the NUL character (U+0000)"),  # the rule for all text
    (981, "Expected a string (the app's own runId)"),
])
def test_a_run_key_past_the_bounds_is_refused_naming_it(value: Any, message: str) -> None:
    with pytest.raises(CaliperError) as caught:
        parse_envelope(with_run_key(value))
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("data[0].extensions.runKey", message)]
