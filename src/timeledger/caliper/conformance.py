"""Judge IMS Caliper 1.2 conformance fixtures (as bytes) with the platform's own envelope parser."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from timeledger.caliper.core.vocabulary import CALIPER_CONTEXT
from timeledger.caliper.envelope import parse_envelope
from timeledger.caliper.errors import CaliperError, Problem

#: The sensor and send time a bare event or entity fixture is wrapped with.
WRAP_SENSOR = "https://example.edu/sensors/1"
WRAP_SEND_TIME = "2025-01-15T10:05:00.000Z"
ENDPOINT_CONFIG_FILE = "caliperEndpointConfigPayload.json"


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one fixture file: accepted, rejected with the problems named, or crashed
    (an exception other than CaliperError: what an endpoint would answer with a 500)."""

    name: str
    expected_valid: bool
    accepted: bool
    problems: tuple[Problem, ...] = ()
    crashed: str | None = None

    @property
    def rejected(self) -> bool:
        return not self.accepted and self.crashed is None

    @property
    def passed(self) -> bool:
        return self.accepted if self.expected_valid else self.rejected

    @property
    def first_path(self) -> str | None:
        return self.problems[0].path if self.problems else None


@dataclass(frozen=True, slots=True)
class SuiteResult:
    """Per-file outcomes of a conformance run, and the totals a report prints."""

    outcomes: tuple[FileOutcome, ...]

    @property
    def valid_total(self) -> int:
        return sum(1 for o in self.outcomes if o.expected_valid)

    @property
    def valid_accepted(self) -> int:
        return sum(1 for o in self.outcomes if o.expected_valid and o.accepted)

    @property
    def invalid_total(self) -> int:
        return sum(1 for o in self.outcomes if not o.expected_valid)

    @property
    def invalid_rejected(self) -> int:
        return sum(1 for o in self.outcomes if not o.expected_valid and o.rejected)

    @property
    def failures(self) -> tuple[FileOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.passed)

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary_line(self) -> str:
        return (f"valid_accepted={self.valid_accepted}/{self.valid_total} "
                f"invalid_rejected={self.invalid_rejected}/{self.invalid_total}")


def is_envelope(document: object) -> bool:
    return isinstance(document, dict) and "dataVersion" in document and "data" in document


def wrap_item(item: Any) -> dict[str, Any]:
    """The envelope a sensor would send carrying one bare event or entity."""
    return {"sensor": WRAP_SENSOR, "sendTime": WRAP_SEND_TIME, "dataVersion": CALIPER_CONTEXT,
            "data": [item]}


def wrap_for_endpoint(name: str, raw: bytes) -> bytes:
    """The exact request body to POST for the fixture file `name` holding `raw`.

    Envelope files go as they are; a bare event or entity is wrapped in an envelope; a file that
    is not JSON at all (and the endpoint-config payload, which is not an event) goes as raw bytes.
    """
    if name == ENDPOINT_CONFIG_FILE:
        return raw
    try:
        document = json.loads(raw)
    except ValueError:
        return raw
    if is_envelope(document):
        return raw
    return json.dumps(wrap_item(document)).encode()


def endpoint_config_problems(raw: bytes) -> list[Problem]:
    """Check an endpoint-config payload: supported versions (strings) and max payload size."""
    try:
        document = json.loads(raw)
    except ValueError as exc:
        return [Problem("", f"Malformed JSON: {exc}")]
    if not isinstance(document, dict):
        return [Problem("", "Expected a JSON object")]
    problems: list[Problem] = []
    versions = document.get("caliper_supported_versions")
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        problems.append(Problem("caliper_supported_versions", "Expected an array of strings"))
    size = document.get("caliper_maximum_payload_size")
    if not isinstance(size, int) or isinstance(size, bool):
        problems.append(Problem("caliper_maximum_payload_size", "Expected an integer"))
    return problems


def check_fixture(name: str, raw: bytes, expected_valid: bool) -> FileOutcome:
    """Send one fixture's bytes through `parse_envelope` and record the verdict."""
    if name == ENDPOINT_CONFIG_FILE:
        problems = endpoint_config_problems(raw)
        return FileOutcome(name, expected_valid, not problems, tuple(problems))
    try:
        parse_envelope(wrap_for_endpoint(name, raw))
    except CaliperError as exc:
        return FileOutcome(name, expected_valid, False, exc.problems)
    except Exception as exc:  # a bug in the checks: counted as neither accepted nor rejected
        return FileOutcome(name, expected_valid, False, crashed=f"{type(exc).__name__}: {exc}")
    return FileOutcome(name, expected_valid, True)
