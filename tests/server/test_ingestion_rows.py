"""The append's rows: a checked Timeback event's short way (`_timeback_row`) gives the row the
general one (`_row`) gives, for every fixture, conformance case and generated event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.support.shared import CALIPER_FIXTURES, TIMEBACK_FIXTURES, require_shared
from timeledger.caliper import conformance
from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    activity_url,
    completed_event,
    envelope,
    time_spent_event,
)
from timeledger.caliper.envelope import Envelope, parse_envelope
from timeledger.caliper.errors import CaliperError
from timeledger.caliper.metrics import Metrics
from timeledger.caliper.screen import read_envelope
from timeledger.server.ingestion import Ingestor, _row, _timeback_row
from timeledger.server.store.database import create_engine
from timeledger.server.store.partitions import POSTGRESQL_PARTITIONS, learner_partition

RECEIVED = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
SENSOR = "https://app.example.com"
REF = ActivityRef(url=activity_url(SENSOR, "f1", subject="Math", grade=3), name="F1",
                  subject="Math", app_name="App", course_id="math-3", course_name="M3")


def _generated() -> list[bytes]:
    start = datetime(2025, 3, 3, 9, tzinfo=UTC)
    beat = time_spent_event(actor=Learner("Ada@Example.EDU", "ada").actor(SENSOR),
                            activity=REF, run_id=str(uuid.uuid4()), started_at=start,
                            ended_at=start + timedelta(seconds=15), active_ms=12_000,
                            inactive_ms=3_000)
    done = completed_event(actor=Learner("bo@example.edu", "bo").actor(SENSOR), activity=REF,
                           run_id=str(uuid.uuid4()), ended_at=start,
                           metrics=Metrics(xp_earned=3, total_questions=4, correct_questions=3,
                                           mastered_units=1, pct_complete=40), attempt=2)
    no_run = {key: value for key, value in beat.items() if key != "extensions"}
    no_run["id"] = f"urn:uuid:{uuid.uuid4()}"
    return [orjson.dumps(envelope(SENSOR, [beat, done, no_run], start))]


def _fixture_bodies() -> list[bytes]:
    require_shared()
    bodies = [path.read_bytes() for path in sorted(TIMEBACK_FIXTURES.glob("*envelope*.json"))]
    return bodies + [path.read_bytes() for path in sorted((CALIPER_FIXTURES / "valid").iterdir())
                     if path.is_file() and path.name != conformance.ENDPOINT_CONFIG_FILE]


def _envelopes() -> list[Envelope]:
    bodies = _fixture_bodies()
    checked: list[Envelope] = []
    for body in bodies:
        try:
            checked += [read_envelope(body), parse_envelope(body)]  # the full rules' refs too
        except CaliperError:
            continue  # a valid item on its own, not an envelope
    for body in _generated():
        checked += [read_envelope(body), parse_envelope(body)]
    return checked


def test_a_timeback_event_s_short_row_is_its_general_row() -> None:
    envelopes = _envelopes()
    compared = 0
    for checked in envelopes:
        for index, ref in checked.refs.items():
            item = checked.data[index]
            for partition in (0, learner_partition(ref.learner_email, POSTGRESQL_PARTITIONS)):
                assert _timeback_row(item, ref, partition, checked.sensor, RECEIVED, "job") == \
                    _row(item, ref.run_id, partition, checked.sensor, RECEIVED, "job"), item
                compared += 1
    assert compared >= 20  # the fixtures' and generated events, both readings
    assert any(not checked.refs for checked in envelopes)  # core Caliper envelopes came too


def test_rows_take_the_short_way_only_for_timeback_events(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/rows.sqlite3")
    try:
        ingestor = Ingestor(engine, lambda: RECEIVED)
        for checked in _envelopes():
            rows = ingestor._rows(checked, RECEIVED, "job")
            assert rows == [
                _row(item, ref.run_id if ref else None, None if ref is None else 0,
                     checked.sensor, RECEIVED, "job")
                for index, item in enumerate(checked.data)
                for ref in [checked.refs.get(index)]]
    finally:
        engine.dispose()


@pytest.mark.parametrize("email", ["Ada@Example.EDU", "ada@example.edu", "ADA@EXAMPLE.EDU"])
def test_the_row_s_learner_is_the_ref_s_lower_cased_address(email: str) -> None:
    start = datetime(2025, 3, 3, 9, tzinfo=UTC)
    beat = time_spent_event(actor=Learner(email, "ada").actor(SENSOR), activity=REF,
                            run_id=str(uuid.uuid4()), started_at=start,
                            ended_at=start + timedelta(seconds=15), active_ms=1_000,
                            inactive_ms=0)
    checked = read_envelope(orjson.dumps(envelope(SENSOR, [beat], start)))
    row = _timeback_row(beat, checked.refs[0], 0, SENSOR, RECEIVED, "job")
    assert row[7] == "ada@example.edu"


def _spellings(body: bytes) -> dict[str, bytes]:
    """One envelope written as clients write JSON: compactly (orjson, JSON.stringify), with
    Python's default separators, indented, and with every non-ASCII character escaped."""
    parsed = orjson.loads(body)
    return {"compact": orjson.dumps(parsed), "python": json.dumps(parsed).encode(),
            "indented": json.dumps(parsed, indent=2).encode(),
            "ascii": json.dumps(parsed, ensure_ascii=True, separators=(",", ":")).encode()}


def test_the_screen_s_rows_are_the_general_rows_however_the_body_is_spelled(
        tmp_path: Path) -> None:
    """Each stored text is orjson's writing of the event, one line, whether the screen kept it
    as received (a compact body) or wrote it again (spaced, indented, escaped)."""
    engine = create_engine(f"sqlite:///{tmp_path}/rows.sqlite3")
    named = [orjson.dumps({**orjson.loads(body), "data": [
        {**item, "actor": {**item["actor"], "name": "Zoë Ñúñez"}}
        for item in orjson.loads(body)["data"]]}) for body in _generated()]
    screened = 0
    try:
        ingestor = Ingestor(engine, lambda: RECEIVED)
        for original in [*_fixture_bodies(), *_generated(), *named]:
            for spelling, body in _spellings(original).items():
                try:
                    full = parse_envelope(body)
                except CaliperError:
                    continue
                checked = read_envelope(body)
                if checked.screened is None:
                    continue
                screened += 1
                assert ingestor._rows(checked, RECEIVED, "job") == [
                    _row(item, ref.run_id, 0, full.sensor, RECEIVED, "job")
                    for index, item in enumerate(full.data) for ref in [full.refs[index]]
                ], spelling
    finally:
        engine.dispose()
    assert screened >= 4 * 8  # every spelling of the fixtures' and generated envelopes


def test_a_compact_body_otherwise_spaced_is_stored_as_received() -> None:
    """Spacing the screen does not look for is kept as sent: it reads back byte for byte (and
    compaction packs such a text whole, store/column_fields.py)."""
    original = orjson.loads(_generated()[0])
    body = json.dumps(original, separators=(",", " : ")).encode()
    checked = read_envelope(body)
    assert checked.screened is not None
    for event, item in zip(checked.screened, original["data"], strict=True):
        assert event.text.encode() in body  # the item's own bytes
        assert event.text != orjson.dumps(item).decode()
        assert "\n" not in event.text and orjson.loads(event.text) == item
