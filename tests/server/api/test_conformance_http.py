"""The Caliper endpoint over HTTP against every IMS Caliper 1.2 fixture, one test per file; and the
TimebackProfile pipeline unmoved by every one of them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from tests.caliper.fixture_names import NOT_JSON, expected_path
from tests.support.ledger_world import Ledger, at, completion, heartbeat, new_run
from tests.support.platform import PlatformProcess, run_cli
from tests.support.postgres import Backend
from tests.support.shared import CALIPER_FIXTURES, TIMEBACK_FIXTURES, require_shared
from timeledger.caliper.conformance import (
    ENDPOINT_CONFIG_FILE,
    endpoint_config_problems,
    is_envelope,
)
from timeledger.caliper.envelope import MAX_NESTING, parse_envelope
from timeledger.caliper.errors import CaliperError
from timeledger.cli.conformance import fixture_body
from timeledger.server.pipeline import PipelineSettings
from timeledger.server.pipeline.rebuild import rebuild
from timeledger.server.store.projection_tables import PROJECTION_TABLES
from timeledger.server.store.schema import events

ROUTES = ("/caliper/event/validate", "/caliper/event")


def _files(sub: str) -> list[Any]:
    folder = CALIPER_FIXTURES / sub
    if not folder.is_dir():
        return [pytest.param(None, id=f"{sub}-fixtures-absent")]
    return [pytest.param(p, id=p.name) for p in sorted(folder.iterdir())
            if p.is_file() and p.name != ENDPOINT_CONFIG_FILE]


def _valid_paths() -> list[Path]:
    require_shared()
    return [p for p in sorted((CALIPER_FIXTURES / "valid").iterdir())
            if p.is_file() and p.name != ENDPOINT_CONFIG_FILE]


@pytest.fixture(scope="module")
def endpoint(backend: Backend,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    """One platform per backend for this module's fixtures (they share ids: see below)."""
    with PlatformProcess(tmp_path_factory.mktemp("conformance"),
                         db_url=backend.new_db_url()) as running:
        yield running


def _items(body: bytes) -> list[dict[str, Any]]:
    document = json.loads(body)
    items: list[dict[str, Any]] = document["data"] if is_envelope(document) else [document]
    return items


@pytest.mark.parametrize("path", _files("valid"))
def test_valid_fixture_is_accepted_and_stored(endpoint: PlatformProcess, path: Path | None) -> None:
    require_shared()
    assert path is not None
    body = fixture_body(path)
    for route in ROUTES:
        reply = _post(endpoint, route, body)
        assert reply.status_code == 200, reply.text
    job = endpoint.get(f"/jobs/{reply.json()['jobId']}/status")["job"]
    results = job["returnValue"]["results"]
    for item, result in zip(_items(body), results, strict=True):
        if "id" not in item:
            continue  # id-less entities: see test_id_less_entities_are_each_stored
        assert result["externalId"] == item["id"]
        assert result["status"] in ("stored", "duplicate", "conflict")
        stored = endpoint.get(f"/caliper/events/{quote(item['id'], safe='')}")
        if result["status"] == "conflict":
            # Another fixture, or an earlier item of this envelope, used the id for another body:
            # the first one stays (test_each_fixture_is_stored_on_a_fresh_store covers the rest).
            assert stored["event"] != item
            continue
        assert stored["type"] == item["type"]
        assert stored["event"] == item
        listed = endpoint.get("/caliper/events", type=item["type"], limit=1000)["events"]
        assert item["id"] in {e["eventId"] for e in listed}
        assert {e["type"] for e in listed} == {item["type"]}  # the filter filters


@pytest.mark.parametrize("path", _files("invalid"))
def test_invalid_fixture_is_rejected_naming_its_property(endpoint: PlatformProcess,
                                                         path: Path | None) -> None:
    require_shared()
    assert path is not None
    body = fixture_body(path)
    with pytest.raises(CaliperError) as caught:
        parse_envelope(body)
    if path.name in NOT_JSON:
        assert body == path.read_bytes()  # sent as is
    for route in ROUTES:
        reply = _post(endpoint, route, body)
        assert reply.status_code == 400, reply.text
        error = reply.json()
        assert error["imsx_codeMajor"] == "failure"
        details = error["imsx_error_details"]
        assert details == [p.to_json() for p in caught.value.problems]
        if path.name in NOT_JSON:
            assert details[0]["path"] == ""
            assert details[0]["message"].startswith("Malformed JSON")
        else:
            pattern = expected_path(path.name)
            assert pattern.match(details[0]["path"]), (details[0], pattern.pattern)


def _post(endpoint: PlatformProcess, route: str, body: bytes) -> httpx.Response:
    with endpoint.http() as client:
        return client.post(route, content=body, headers={"Content-Type": "application/json"})


def _timeback_envelope() -> dict[str, Any]:
    require_shared()
    body: dict[str, Any] = json.loads((TIMEBACK_FIXTURES / "envelope-time-spent.json").read_text())
    return body


def _deep(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("change", ["profile-array", "profile-object", "nested-too-deep"])
def test_hostile_bodies_are_a_400_never_a_500(endpoint: PlatformProcess, change: str) -> None:
    """Each of these once escaped the checks: a TypeError, or a store that could not write it."""
    body = _timeback_envelope()
    event = body["data"][0]
    event["id"] = "urn:uuid:7d1e4a8c-0b6f-4c55-9a39-2f0e5d6c8b11"
    if change == "profile-array":
        event["profile"], where = ["TimebackProfile"], "data[0].profile"
    elif change == "profile-object":
        event["profile"], where = {}, "data[0].profile"
    else:
        event["extensions"]["deep"] = _deep(MAX_NESTING - 3)
        where = "data[0].extensions.deep" + ".a" * (MAX_NESTING - 4)
    for route in ROUTES:
        reply = _post(endpoint, route, json.dumps(body).encode())
        assert reply.status_code == 400, reply.text
        assert reply.json()["imsx_error_details"][0]["path"] == where


def test_endpoint_config_has_the_fixture_shape(endpoint: PlatformProcess) -> None:
    require_shared()
    example = json.loads((CALIPER_FIXTURES / "valid" / ENDPOINT_CONFIG_FILE).read_text())
    reply = httpx.get(f"{endpoint.base_url}/caliper/event")  # no token needed
    assert reply.status_code == 200
    assert endpoint_config_problems(reply.content) == []
    served = reply.json()
    assert set(example) == set(served)
    assert "http://purl.imsglobal.org/ctx/caliper/v1p2" in served["caliper_supported_versions"]
    # The size it announces is the size it enforces.
    limit = served["caliper_maximum_payload_size"]
    assert endpoint.send(b"{" + b" " * (limit - 2) + b"}").status_code == 400  # at the limit
    assert endpoint.send(b"{" + b" " * (limit - 1) + b"}").status_code == 413  # one byte over


def test_conformance_command_prints_full_marks() -> None:
    require_shared()
    done = run_cli("conformance", str(CALIPER_FIXTURES))
    assert done.stdout.strip().splitlines()[-1] == "valid_accepted=144/144 invalid_rejected=279/279"


# --- stored on any store, and the TimebackProfile pipeline unmoved --------------------------------


def test_each_fixture_is_stored_on_a_fresh_store(backend: Backend, tmp_path: Path) -> None:
    """Fixtures reuse ids across files, so the shared endpoint above sees conflicts; alone (the
    events table emptied before each), every item with an id is stored, but for a repeat of an id
    earlier in the same envelope."""
    ledger = Ledger(tmp_path, db_url=backend.new_db_url())
    try:
        for path in _valid_paths():
            with ledger.platform.engine.begin() as conn:
                conn.execute(events.delete())
            body = fixture_body(path)
            results = ledger.platform.ingestor.ingest(parse_envelope(body)).results
            seen: dict[str, dict[str, Any]] = {}
            for item, result in zip(_items(body), results, strict=True):
                if "id" not in item:
                    continue
                first = seen.setdefault(item["id"], item)
                wanted = "stored" if first is item else (
                    "duplicate" if first == item else "conflict")
                assert result.status == wanted, (path.name, item["id"], result)
                if wanted == "stored":
                    stored = ledger.read(lambda c, i=item["id"]: c.execute(
                        sa.select(events.c.body).where(events.c.event_id == i)).scalar_one())
                    assert json.loads(stored) == item
    finally:
        ledger.close()


def test_id_less_entities_are_each_stored(backend: Backend, tmp_path: Path) -> None:
    require_shared()
    ledger = Ledger(tmp_path, db_url=backend.new_db_url())
    try:
        for name in ("caliperEntitySystemIdentifier.json",
                     "caliperEntityTextPositionSelector.json"):
            envelope = parse_envelope(fixture_body(CALIPER_FIXTURES / "valid" / name))
            [result] = ledger.platform.ingestor.ingest(envelope).results
            assert result.status == "stored", (name, result)
            [again] = ledger.platform.ingestor.ingest(envelope).results
            assert again.status == "duplicate", (name, again)  # the same content is one item
        assert len(ledger.rows(events)) == 2
    finally:
        ledger.close()


def _projections(ledger: Ledger) -> dict[str, list[dict[str, Any]]]:
    return {table.name: ledger.rows(table) for table in PROJECTION_TABLES}


def _without_seqs(snapshot: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Projections with the store's sequence numbers left out (they count core items too)."""
    return {name: [{k: v for k, v in row.items() if not k.endswith("seq")} for row in rows]
            for name, rows in snapshot.items()}


def test_timeback_pipeline_is_unmoved_by_core_caliper_items(backend: Backend,
                                                            tmp_path: Path) -> None:
    require_shared()
    run, other = new_run(), new_run()
    start = at("2025-01-13T10:00:00")
    before = [heartbeat("ann@example.edu", run, start, 240.0, 30.0),
              completion("ann@example.edu", run, at("2025-01-13T10:05:00"), 12.0, total=10,
                         correct=9, mastered=1)]
    after = [heartbeat("ann@example.edu", other, at("2025-01-13T11:00:00"), 120.0),
             completion("ann@example.edu", other, at("2025-01-13T11:03:00"), 8.0, total=5,
                        correct=5)]
    for name in ("plain", "mixed"):
        (tmp_path / name).mkdir()
    plain = Ledger(tmp_path / "plain", db_url=backend.new_db_url())
    mixed = Ledger(tmp_path / "mixed", db_url=backend.new_db_url())
    try:
        for ledger in (plain, mixed):
            ledger.send(*before)
        untouched = _projections(mixed)
        core_items = 0
        for path in _valid_paths():
            envelope = parse_envelope(fixture_body(path))
            assert not envelope.timeback  # none of the IMS fixtures is a Timeback event
            core_items += len(mixed.platform.ingestor.ingest(envelope).results)
        assert core_items > 200
        assert _projections(mixed) == untouched  # core items project nothing
        for ledger in (plain, mixed):
            ledger.send(*after)
        assert _without_seqs(_projections(mixed)) == _without_seqs(_projections(plain))
        assert {r["run_id"] for r in _projections(mixed)["runs"]} == {run, other}
        built = _projections(mixed)
        report = rebuild(mixed.platform.engine, PipelineSettings(timezone="UTC"))
        assert report.replayed == len(before) + len(after)  # the core items are not replayed
        assert report.unreadable == ()
        assert _projections(mixed) == built
    finally:
        plain.close()
        mixed.close()
