"""A heartbeat body read by `read_heartbeat` (a plain body taken as it is) and by the model
(`HeartbeatBody`) gives the same answer: the same values of the same types, or the same field and
message refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.shared import timeback_fixture
from timeledger.caliper.bounds import MAX_RUN_KEY_CHARS, MAX_WINDOW_MS
from timeledger.web.request_bodies import (
    BodyProblem,
    HeartbeatBody,
    read_body,
    read_heartbeat,
)

pytestmark = pytest.mark.unit

FIELDS = ("id", "name", "course", "runId", "startedAt", "endedAt", "elapsedMs", "pausedMs",
          "process")
ABSENT = object()


class Text(str):
    """A str subclass: JSON never gives one, a caller of the reader might."""


ODD_VALUES: list[Any] = [
    ABSENT, None, "", " ", "\t", "\u00a0", "\u00a0x", "x", "~", "!", "é", "\x1fx", Text("x"),
    0, 1, -1, 3, MAX_WINDOW_MS, MAX_WINDOW_MS + 1, 2**70, 12000.0, 12000.5, -0.0, True, False,
    [], {}, ["x"], {"subject": "Math", "grade": 3}, {"code": "MATH-3"}, {"code": None},
    {"code": ""}, {"code": " M"}, {"code": 3}, {"subject": "Math"}, {"grade": 3},
    {"subject": "Math", "grade": 3.0}, {"subject": "Math", "grade": True},
    {"subject": 3, "grade": 3}, {"subject": "", "grade": -4}, {"subject": "Math", "grade": 2**70},
    {"code": "MATH-3", "subject": 4}, {"subject": "Math", "grade": 3, "code": None, "extra": 1},
    "2025-01-15T10:00:00.000Z", "2025-01-15T10:00:00Z", "2025-01-15T10:00:00.000+00:00",
    "2025-01-15T10:00:00.123456789Z", "2025-01-15 10:00:00Z", "2025-02-30T10:00:00.000Z",
    "1899-01-15T10:00:00.000Z", "9999-01-15T10:00:00.000Z", "2025-01-15T10:00:00.000Z\n",
    "2025-01-15T10:00:00.000+01:00", "٢٠٢٥-01-15T10:00:00.000Z",
    "3F0C6A52-9B1E-4C1E-8D3A-5B7F2F1E9A10", "urn:uuid:3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10",
    "assignment-row-981", "a" * MAX_RUN_KEY_CHARS, "a" * (MAX_RUN_KEY_CHARS + 1),
    "x\x00y", "line\u2028break", "urn:uuid:" + "a" * MAX_RUN_KEY_CHARS,
]


def body(**changes: Any) -> dict[str, Any]:
    value = timeback_fixture("adapter-heartbeat-request.json")
    for name, change in changes.items():
        if change is ABSENT:
            value.pop(name, None)
        else:
            value[name] = change
    return value


def typed(values: tuple[Any, ...]) -> tuple[tuple[type, Any], ...]:
    """Values with their types (12000 == 12000.0 and True == 1 would hide a difference)."""
    return tuple((type(value), value) for value in values)


def by_model(value: dict[str, Any]) -> Any:
    try:
        model = read_body(HeartbeatBody, value)
    except BodyProblem as problem:
        return ("refused", problem.field, problem.message)
    return typed((model.id, model.name, model.course.model_dump(), model.runId, model.startedAt,
                  model.endedAt, model.elapsedMs, model.pausedMs, model.process))


def by_reader(value: dict[str, Any]) -> Any:
    try:
        beat = read_heartbeat(value)
    except BodyProblem as problem:
        return ("refused", problem.field, problem.message)
    return typed(tuple(beat))


def test_a_plain_body_is_read_as_the_model_reads_it() -> None:
    plain = body()
    assert by_reader(plain) == by_model(plain)
    assert by_reader(plain)[2] == (dict, {"subject": "Math", "grade": 3})


@pytest.mark.parametrize("field", FIELDS)
def test_each_field_of_each_odd_value_gets_the_models_answer(field: str) -> None:
    for odd in ODD_VALUES:
        value = body(**{field: odd})
        assert by_reader(value) == by_model(value), (field, odd)


def test_a_course_by_code_and_a_non_uuid_run_id_get_the_models_answer() -> None:
    for course in ({"code": "MATH-3"}, {"code": "MATH-3", "subject": "Math", "grade": 3}):
        for run_id in (str(uuid.uuid4()), "assignment-row-981", " padded "):
            value = body(course=course, runId=run_id, process=False)
            assert by_reader(value) == by_model(value), (course, run_id)


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=6)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES | st.just(ABSENT),
                               max_size=3))
def test_any_json_in_any_fields_gets_the_models_answer(changes: dict[str, Any]) -> None:
    value = body(**changes)
    assert by_reader(value) == by_model(value)
