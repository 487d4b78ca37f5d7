"""The IMS Caliper 1.2 conformance fixtures: every valid file accepted, every invalid one rejected
at the property its name says is wrong; and the core tables checked against the JSON-LD context."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.caliper.fixture_names import NOT_JSON, expected_path
from tests.support.shared import CALIPER_FIXTURES, TIMEBACK_FIXTURES, require_shared
from timeledger.caliper import conformance
from timeledger.caliper.core import check_item, entities, events, vocabulary
from timeledger.caliper.core.properties import (
    BOOLEAN,
    DATE_TIME,
    DECIMAL,
    DURATION,
    INTEGER,
    NON_NEGATIVE_INTEGER,
    STRING,
    ListOf,
    Map,
    Prop,
    Ref,
    Term,
)
from timeledger.caliper.envelope import MAX_NESTING, MalformedJSON, parse_envelope
from timeledger.caliper.errors import CaliperError
from timeledger.cli.conformance import fixture_body, run_suite

pytestmark = pytest.mark.unit  # starts no server, no PostgreSQL, no browser: make test-fast

CONTEXT_FILE = CALIPER_FIXTURES / "context" / "caliper-v1p2.jsonld"


def _fixture_params(sub: str) -> list[Any]:
    folder = CALIPER_FIXTURES / sub
    if not folder.is_dir():
        return [pytest.param(None, id=f"{sub}-fixtures-absent")]
    return [pytest.param(p, id=p.name) for p in sorted(folder.iterdir()) if p.is_file()]


def _context() -> dict[str, Any]:
    require_shared()
    terms: dict[str, Any] = json.loads(CONTEXT_FILE.read_text())["@context"]
    return terms


# --- the suite, file by file ----------------------------------------------------------------------


@pytest.mark.parametrize("path", _fixture_params("valid"))
def test_valid_fixture_is_accepted(path: Path | None) -> None:
    require_shared()
    assert path is not None
    if path.name == conformance.ENDPOINT_CONFIG_FILE:
        assert conformance.endpoint_config_problems(path.read_bytes()) == []
        return
    parse_envelope(fixture_body(path))


@pytest.mark.parametrize("path", _fixture_params("invalid"))
def test_invalid_fixture_is_rejected_at_its_property(path: Path | None) -> None:
    require_shared()
    assert path is not None
    with pytest.raises(CaliperError) as caught:
        parse_envelope(fixture_body(path))
    if path.name in NOT_JSON:
        assert isinstance(caught.value, MalformedJSON)
        assert caught.value.path == ""
        return
    pattern = expected_path(path.name)
    first = caught.value.problems[0]
    assert pattern.match(first.path), f"{first.path}: {first.message} (wanted {pattern.pattern})"
    assert first.message


def test_survey_items_intent() -> None:
    """With its stray comma removed, the malformed Survey file fails where its name says."""
    require_shared()
    name = "caliperEntitySurvey-MalformedItemsContainsWrongEntityType.json"
    text = (CALIPER_FIXTURES / "invalid" / name).read_text()
    repaired = re.sub(r",(\s*})", r"\1", text)
    problems = check_item(json.loads(repaired), "data[0]")
    assert [p.path for p in problems] == ["data[0].items[0].type"]
    assert problems[0].message == "Expected Questionnaire (or a subtype); got Person"


def test_run_suite_totals() -> None:
    require_shared()
    result = run_suite(CALIPER_FIXTURES)
    assert [o.name for o in result.failures] == []
    assert result.summary_line() == "valid_accepted=144/144 invalid_rejected=279/279"


def test_wrap_for_endpoint_shapes() -> None:
    require_shared()
    envelope = CALIPER_FIXTURES / "valid" / "caliperEnvelopeEventSingle.json"
    assert fixture_body(envelope) == envelope.read_bytes()
    bare = CALIPER_FIXTURES / "valid" / "caliperEventSessionLoggedIn.json"
    body = json.loads(fixture_body(bare))
    assert list(body) == ["sensor", "sendTime", "dataVersion", "data"]
    assert body["dataVersion"] == vocabulary.CALIPER_CONTEXT
    assert body["data"] == [json.loads(bare.read_text())]
    bad = CALIPER_FIXTURES / "invalid" / "caliperEntity-BadJson.json"
    assert fixture_body(bad) == bad.read_bytes()


# --- the TimebackProfile events pass the core rules -----------------------------------------------


def _timeback_params() -> list[Any]:
    if not TIMEBACK_FIXTURES.is_dir():
        return [pytest.param(None, id="timeback-fixtures-absent")]
    names = [p for p in sorted(TIMEBACK_FIXTURES.glob("*.json"))
             if p.name.startswith(("envelope-", "record-"))
             or (p.name.startswith("adapter-") and p.name.endswith("-resulting-envelope.json"))]
    return [pytest.param(p, id=p.name) for p in names]


@pytest.mark.parametrize("path", _timeback_params())
def test_timeback_items_pass_core_rules(path: Path | None) -> None:
    require_shared()
    assert path is not None
    data = json.loads(path.read_text())["data"]
    assert data
    for index, item in enumerate(data):
        assert check_item(item, f"data[{index}]") == []


def _timeback_event() -> dict[str, Any]:
    require_shared()
    item: dict[str, Any] = json.loads(
        (TIMEBACK_FIXTURES / "envelope-time-spent.json").read_text())["data"][0]
    return item


def test_timeback_common_rules() -> None:
    event = _timeback_event()
    assert check_item({**event, "action": "Completed"}, "data[0]")[0].path == "data[0].action"
    assert check_item({**event, "id": "df4966ad"}, "data[0]")[0].path == "data[0].id"
    late = check_item({**event, "eventTime": "2025-01-15"}, "data[0]")
    assert late[0].path == "data[0].eventTime"
    without_actor = {k: v for k, v in event.items() if k != "actor"}
    assert [(p.path, p.message) for p in check_item(without_actor, "data[0]")] == [
        ("data[0].actor", "Required")]
    wrong_type = {**event, "type": "SessionEvent", "action": "LoggedIn"}
    assert check_item(wrong_type, "data[0]")[0].path == "data[0].type"
    # detailed Timeback rules (items, values, email) are timeback.py's, not the core's
    odd_items = {**event, "generated": {**event["generated"], "items": [{"value": "x"}]}}
    assert check_item(odd_items, "data[0]") == []


# --- messages say what was expected ---------------------------------------------------------------


def _session_event() -> dict[str, Any]:
    require_shared()
    item: dict[str, Any] = json.loads(
        (CALIPER_FIXTURES / "valid" / "caliperEventSessionLoggedIn.json").read_text())
    return item


def test_messages_name_what_was_expected() -> None:
    event = _session_event()
    problems = check_item({**event, "action": "Foo"}, "data[3]")
    assert [(p.path, p.message) for p in problems] == [(
        "data[3].action",
        "Unknown action 'Foo' for SessionEvent; expected one of: LoggedIn, LoggedOut, TimedOut")]
    problems = check_item({**event, "object": "not an iri"}, "data[0]")
    assert problems[0].message.startswith("Expected a SoftwareApplication object or its IRI")
    problems = check_item({**event, "surprise": 1}, "data[0]")
    assert [p.path for p in problems] == ["data[0].surprise"]
    measure = {"@context": vocabulary.CALIPER_CONTEXT, "id": "urn:uuid:1",
               "type": "AggregateMeasure", "metric": "MinutesOnTask", "metricValue": 12}
    problems = check_item(measure, "data[0]")
    assert problems[0].path == "data[0].metricValue"
    assert problems[0].message.startswith("Expected a number with a fractional part (float)")
    assert check_item([], "data[0]")[0].path == "data[0]"


def test_session_actor_and_object_follow_the_action() -> None:
    event = _session_event()
    timed_out = {**event, "action": "TimedOut"}  # a Person actor may not time out a session
    assert [p.path for p in check_item(timed_out, "data[0]")] == [
        "data[0].actor.type", "data[0].object.type"]


# --- the tables agree with the JSON-LD context ----------------------------------------------------

_CONTEXT_GROUPS = {
    "caliper:actions/": vocabulary.CORE_ACTIONS,
    "caliper:metrics/": vocabulary.METRICS,
    "caliper:systemIdentifiers/": vocabulary.SYSTEM_IDENTIFIER_TYPES,
    "caliper:lti/": vocabulary.LTI_MESSAGE_TYPES,
    "lis:status#": vocabulary.STATUSES,
    "caliper:profiles/": vocabulary.CORE_PROFILES,
}


@pytest.mark.parametrize("prefix", sorted(_CONTEXT_GROUPS))
def test_vocabulary_matches_context(prefix: str) -> None:
    terms = _context()
    in_context = {k for k, v in terms.items() if isinstance(v, str) and v.startswith(prefix)}
    assert in_context == set(_CONTEXT_GROUPS[prefix])


def test_roles_match_context() -> None:
    terms = _context()
    in_context = {k for k, v in terms.items()
                  if isinstance(v, str) and v.startswith("lis:membership")}
    assert set(vocabulary.ROLES) - in_context == {"Manager#Manager"}  # used by the IMS fixtures
    assert in_context <= set(vocabulary.ROLES)


def test_types_match_context() -> None:
    terms = _context()
    caliper_types = {k for k, v in terms.items() if isinstance(v, str)
                     and re.fullmatch(r"caliper:[A-Z]\w*", v)}
    core_entities = {t.name for t in entities.ENTITY_TABLE if not t.open}
    core_events = {t.name for t in events.EVENT_TABLE if t.profile is None}
    assert caliper_types == core_entities | core_events


_STRING_LISTS = {"keywords", "itemLabels", "itemValues", "categories", "tags", "selections"}
_NOT_IN_CONTEXT = {"storageName", "searchResults"}


def _expected_kinds(definition: object) -> tuple[Prop | type, ...]:
    kind = definition.get("@type") if isinstance(definition, dict) else None
    kinds: dict[str | None, tuple[Prop | type, ...]] = {
        "xsd:string": (STRING,),
        "xsd:dateTime": (DATE_TIME,),
        "xsd:duration": (DURATION,),
        "xsd:boolean": (BOOLEAN,),
        "xsd:decimal": (DECIMAL,),
        "xsd:integer": (INTEGER, NON_NEGATIVE_INTEGER),
        "xsd:long": (INTEGER,),
        "xsd:nonNegativeInteger": (NON_NEGATIVE_INTEGER,),
        "@vocab": (Term,),
        "@id": (Ref, Map),
        None: (Ref, STRING),
    }
    return kinds[kind]


def test_property_kinds_match_context() -> None:
    terms = _context()
    for type_name, properties in entities.PROPERTIES.items():
        for name, prop in properties.items():
            if name in _NOT_IN_CONTEXT:
                assert name not in terms
                continue
            assert name in terms, f"{type_name}.{name} is not a context term"
            inner = prop.item if isinstance(prop, ListOf) else prop
            if isinstance(prop, ListOf) and name in _STRING_LISTS:
                assert inner == STRING, name  # strings in the fixtures, whatever @type says
                continue
            expected = _expected_kinds(terms[name])
            assert any(inner == k or (isinstance(k, type) and isinstance(inner, k))
                       for k in expected), f"{type_name}.{name}: {inner} vs {terms[name]}"
            assert isinstance(prop, ListOf) == (terms[name].get("@container") == "@list"), name


# --- one rule set, and never anything but a CaliperError ------------------------------------------


def _timeback_envelope() -> dict[str, Any]:
    require_shared()
    body: dict[str, Any] = json.loads((TIMEBACK_FIXTURES / "envelope-time-spent.json").read_text())
    return body


def _first_problem(body: object) -> tuple[str, str]:
    with pytest.raises(CaliperError) as caught:
        parse_envelope(json.dumps(body).encode())
    return caught.value.problems[0].path, caught.value.problems[0].message


@pytest.mark.parametrize("profile", [[], {}, 1, None, ["TimebackProfile"]])
def test_timeback_type_with_a_non_string_profile_is_rejected_at_profile(profile: object) -> None:
    body = _timeback_envelope()
    body["data"][0]["profile"] = profile  # was a TypeError (unhashable) on its way to a 500
    path, _message = _first_problem(body)
    assert path == "data[0].profile"


@pytest.mark.parametrize(("where", "value"), [
    (("actor", "id"), "https://example.edu/users/1\n"),  # `$` let a trailing newline through
    (("actor", "id"), "https://example.edu/users/<1>"),
    (("object", "id"), "https://example.edu/activities/{x}"),
    (("session",), "urn:uuid:3f0c6a52-9b1e-4c1e-8d3a-5b7f2f1e9a10\n"),
    (("actor", "email"), "student@example.edu\n"),
])
def test_timeback_iris_and_ids_follow_the_core_rules(where: tuple[str, ...], value: str) -> None:
    """The profile's IRI and urn:uuid checks are the core ones, not a looser copy."""
    body = _timeback_envelope()
    target = body["data"][0]
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    path, _message = _first_problem(body)
    assert path == "data[0]." + ".".join(where)
    core = json.loads((CALIPER_FIXTURES / "valid" / "caliperEntityPerson.json").read_text())
    if where[-1] == "id":  # the same string fails the same way on a core entity
        core_problems = check_item({**core, "id": value}, "data[0]")
        assert [p.path for p in core_problems] == ["data[0].id"]


def test_sensor_must_be_an_iri() -> None:
    body = _timeback_envelope()
    body["sensor"] = "not an iri: it has spaces"  # a colon alone used to be enough
    assert _first_problem(body)[0] == "sensor"


def _nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


def test_nesting_up_to_the_storable_limit_is_accepted() -> None:
    body = _timeback_envelope()
    # envelope > data > event > extensions > ...: the extension's own objects fill the rest
    body["data"][0]["extensions"]["deep"] = _nested(MAX_NESTING - 4)
    parsed = parse_envelope(json.dumps(body).encode())
    assert orjson.dumps(parsed.data[0])  # what the store writes, and can


def test_nesting_past_the_limit_is_rejected_naming_where() -> None:
    body = _timeback_envelope()
    body["data"][0]["extensions"]["deep"] = _nested(MAX_NESTING - 3)
    path, message = _first_problem(body)
    assert path == "data[0].extensions.deep" + ".a" * (MAX_NESTING - 4)
    assert message == f"Nested more than {MAX_NESTING} levels of objects and arrays deep"


@pytest.mark.parametrize("depth", [200, 252, 400, 1000])
def test_deep_entity_chains_never_escape_as_recursion_errors(depth: int) -> None:
    """isPartOf within isPartOf: checked (recursively) or refused, but always a CaliperError."""
    part: object = "https://example.edu/root"
    for index in range(depth):
        part = {"id": f"https://example.edu/d/{index}", "type": "DigitalResource",
                "isPartOf": part}
    assert isinstance(part, dict)
    entity = {"@context": vocabulary.CALIPER_CONTEXT, **part}
    raw = (b'{"sensor": "https://example.edu/sensors/1", "sendTime": "2025-01-15T10:05:00.000Z",'
           b' "dataVersion": "' + vocabulary.CALIPER_CONTEXT.encode() + b'", "data": ['
           + _dumps_deep(entity) + b"]}")
    if depth + 2 <= MAX_NESTING:
        assert parse_envelope(raw).data
        return
    with pytest.raises(CaliperError) as caught:
        parse_envelope(raw)
    assert caught.value.problems[0].path.startswith("data[0].isPartOf")


def _dumps_deep(value: object) -> bytes:
    """JSON for structures deeper than json.dumps (recursive) or orjson (255 levels) will write."""
    parts: list[bytes] = []
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, bytes):
            parts.append(item)
        elif isinstance(item, dict):
            pieces: list[object] = [b"{"]
            for index, (key, child) in enumerate(item.items()):
                pieces += [b"," if index else b"", json.dumps(key).encode() + b":", child]
            pieces.append(b"}")
            stack.extend(reversed(pieces))
        else:
            parts.append(json.dumps(item).encode())
    return b"".join(parts)


# --- the runner behind `timeledger conformance DIR` ---------------------------------------------


def _mini_suite(root: Path) -> Path:
    """One file that passes and one that fails on each side."""
    require_shared()
    for sub in ("valid", "invalid"):
        (root / sub).mkdir(parents=True)
    valid, invalid = CALIPER_FIXTURES / "valid", CALIPER_FIXTURES / "invalid"
    for source, target in (
        (valid / "caliperEventSessionLoggedIn.json", root / "valid" / "a-good.json"),
        (invalid / "caliperEvent-NoActor.json", root / "valid" / "b-bad.json"),
        (invalid / "caliperEvent-UnknownAction.json", root / "invalid" / "a-bad.json"),
        (valid / "caliperEventViewViewedDocument.json", root / "invalid" / "b-good.json"),
    ):
        target.write_bytes(source.read_bytes())
    return root


def test_command_reports_failures_and_ends_with_the_totals(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from timeledger.cli.conformance import conformance as command

    done = CliRunner().invoke(command, [str(_mini_suite(tmp_path))])
    lines = done.output.strip().splitlines()
    assert done.exit_code == 1
    assert lines[-1] == "valid_accepted=1/2 invalid_rejected=1/2"
    assert lines[:-1] == [
        "FAIL valid   b-bad.json at data[0].actor: Required",
        "FAIL invalid b-good.json",
    ]


def test_a_crash_is_neither_an_acceptance_nor_a_rejection(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root = _mini_suite(tmp_path)

    def crash(_raw: bytes) -> None:
        raise TypeError("unhashable type: 'list'")

    monkeypatch.setattr(conformance, "parse_envelope", crash)
    result = run_suite(root)
    assert result.summary_line() == "valid_accepted=0/2 invalid_rejected=0/2"
    assert {o.crashed for o in result.outcomes} == {"TypeError: unhashable type: 'list'"}
    assert not result.passed
