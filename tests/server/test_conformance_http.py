"""The Caliper endpoint over HTTP against every IMS Caliper 1.2 fixture, one test per file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from support.platform import PlatformProcess, run_cli
from support.shared import CALIPER_FIXTURES, require_shared
from timeledger.caliper.conformance import ENDPOINT_CONFIG_FILE, is_envelope, wrap_for_endpoint


def _files(sub: str) -> list[Any]:
    folder = CALIPER_FIXTURES / sub
    if not folder.is_dir():
        return [pytest.param(None, id=f"{sub}-fixtures-absent")]
    return [pytest.param(p, id=p.name) for p in sorted(folder.iterdir())
            if p.is_file() and p.name != ENDPOINT_CONFIG_FILE]


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    with PlatformProcess(tmp_path_factory.mktemp("conformance")) as running:
        yield running


def _items(body: bytes) -> list[dict[str, Any]]:
    document = json.loads(body)
    items: list[dict[str, Any]] = document["data"] if is_envelope(document) else [document]
    return items


@pytest.mark.parametrize("path", _files("valid"))
def test_valid_fixture_is_accepted_and_stored(endpoint: PlatformProcess, path: Path | None) -> None:
    require_shared()
    assert path is not None
    body = wrap_for_endpoint(path)
    for route in ("/caliper/event/validate", "/caliper/event"):
        reply = endpoint.send(body) if route == "/caliper/event" else _post(endpoint, route, body)
        assert reply.status_code == 200, reply.text
    job = endpoint.get(f"/jobs/{reply.json()['jobId']}/status")["job"]
    results = job["returnValue"]["results"]
    for item, result in zip(_items(body), results, strict=True):
        if "id" not in item:
            continue  # an anonymous entity (e.g. a bare SystemIdentifier) has nothing to look up
        assert result["externalId"] == item["id"]
        assert result["status"] in ("stored", "duplicate", "conflict")
        if result["status"] == "conflict":
            continue  # another fixture used this id for a different body; the first one stays
        stored = endpoint.get(f"/caliper/events/{quote(item['id'], safe='')}")
        assert stored["type"] == item["type"]
        assert stored["event"] == item
        listed = endpoint.get("/caliper/events", type=item["type"], limit=1000)["events"]
        assert item["id"] in {e["eventId"] for e in listed}


@pytest.mark.parametrize("path", _files("invalid"))
def test_invalid_fixture_is_rejected_naming_a_path(endpoint: PlatformProcess,
                                                   path: Path | None) -> None:
    require_shared()
    assert path is not None
    body = wrap_for_endpoint(path)
    for route in ("/caliper/event/validate", "/caliper/event"):
        reply = _post(endpoint, route, body)
        assert 400 <= reply.status_code < 500, reply.text
        error = reply.json()
        assert error["imsx_codeMajor"] == "failure"
        assert error["imsx_error_details"], error
        if path.read_bytes().strip().startswith(b"{") and _is_json(path):
            assert error["imsx_error_details"][0]["path"].startswith("data[0]")


def _is_json(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
    except ValueError:
        return False
    return True


def _post(endpoint: PlatformProcess, route: str, body: bytes) -> httpx.Response:
    with endpoint.http() as client:
        return client.post(route, content=body, headers={"Content-Type": "application/json"})


def test_endpoint_config_has_the_fixture_shape(endpoint: PlatformProcess) -> None:
    require_shared()
    example = json.loads((CALIPER_FIXTURES / "valid" / ENDPOINT_CONFIG_FILE).read_text())
    served = httpx.get(f"{endpoint.base_url}/caliper/event").json()
    assert set(example) == set(served)
    assert isinstance(served["caliper_maximum_payload_size"], int)
    assert "http://purl.imsglobal.org/ctx/caliper/v1p2" in served["caliper_supported_versions"]


def test_conformance_command_prints_full_marks() -> None:
    require_shared()
    done = run_cli("conformance", str(CALIPER_FIXTURES))
    assert done.stdout.strip().splitlines()[-1] == "valid_accepted=144/144 invalid_rejected=279/279"
