"""Storage compaction: every reader returns each event as stored, before and after; compaction is
idempotent, keeps to `through_seq`, and a rollback or a killed compactor leaves rows readable."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
import sqlalchemy as sa
import zstandard
from sqlalchemy.engine import Engine

from tests.support.platform import PlatformProcess, run_cli
from tests.support.postgres import Backend
from tests.support.shared import CALIPER_FIXTURES, TIMEBACK_FIXTURES, require_shared
from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    activity_url,
    completed_event,
    envelope,
)
from timeledger.caliper.builders import time_spent_event as heartbeat
from timeledger.caliper.conformance import ENDPOINT_CONFIG_FILE, is_envelope
from timeledger.caliper.envelope import parse_envelope
from timeledger.caliper.metrics import Metrics
from timeledger.cli.conformance import fixture_body
from timeledger.server.pipeline.rebuild import rebuild
from timeledger.server.platform import Platform, open_platform
from timeledger.server.settings import Settings
from timeledger.server.store import compaction
from timeledger.server.store.compaction import CompactionPolicy, compact_events, compacted_through
from timeledger.server.store.event_appends import append_rows
from timeledger.server.store.event_bodies import (
    BODY_COLUMNS,
    TAKEN_OUT,
    TAKEN_OUT_WITH_BODY_FIELDS,
    event_body,
)
from timeledger.server.store.migrate import downgrade, upgrade
from timeledger.server.store.projection_tables import PROJECTION_TABLES
from timeledger.server.store.schema import compression_dictionaries, events

SENSOR = "https://compaction.example.com"
# Small enough for a test's few hundred events; the defaults wait for a thousand.
POLICY = CompactionPolicy(first_training_events=20, training_samples=400)
REF = ActivityRef(url=activity_url(SENSOR, "fractions", subject="Math", grade=3), name="Fractions",
                  subject="Math", app_name="Compaction", course_id="math-3",
                  course_name="Math 3")


def _heartbeats(count: int, first: int = 0) -> list[dict[str, Any]]:
    start = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    made = []
    for n in range(first, first + count):
        actor = Learner(f"learner{n % 7}@example.edu", f"l{n % 7}").actor(SENSOR)
        began = start + timedelta(seconds=15 * n)
        made.append(heartbeat(actor=actor, activity=REF, run_id=str(uuid.UUID(int=n % 7 + 1)),
                              started_at=began, ended_at=began + timedelta(seconds=15),
                              active_ms=10_000 + n % 500, inactive_ms=5_000 - n % 5))
    return made


def _ingest(platform: Platform, items: list[dict[str, Any]]) -> None:
    for first in range(0, len(items), 100):
        body = orjson.dumps(envelope(SENSOR, items[first:first + 100], datetime.now(UTC)))
        platform.ingestor.ingest(parse_envelope(body))


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Iterator[Platform]:
    url = backend.new_db_url() or f"sqlite:///{tmp_path / 'store.sqlite3'}"
    platform = open_platform(Settings(db_url=url))
    yield platform
    platform.close()


def _raw_rows(engine: Engine) -> dict[int, dict[str, Any]]:
    """Every row as stored, read without the store's body reader."""
    with engine.connect() as conn:
        return {row.seq: dict(row._mapping)
                for row in conn.execute(sa.select(events).order_by(events.c.seq))}


def _texts(engine: Engine) -> dict[int, str]:
    """Each event's JSON text through `event_body`, the read every reader makes."""
    with engine.connect() as conn:
        return {row.seq: event_body(conn, row)
                for row in conn.execute(sa.select(events.c.seq, *BODY_COLUMNS))}


def _compact_all(engine: Engine, policy: CompactionPolicy = POLICY, limit: int = 50,
                 through_seq: int | None = None) -> int:
    """Compact in batches of their own transactions, as the projector does; events passed."""
    with engine.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(events.c.seq))).scalar_one()
    passed = 0
    while True:
        with engine.begin() as conn:
            step = compact_events(conn, through_seq or newest, limit, policy)
        if not step:
            return passed
        passed += step


# The lead bytes of a packed body with fields taken out (then the mask, then the frame).
_LEADS = (TAKEN_OUT, TAKEN_OUT_WITH_BODY_FIELDS)


def _frame(packed: bytes) -> bytes:
    """The zstd frame of a packed body (past the lead byte and the mask of the fields taken out)."""
    packed = bytes(packed)
    return packed[2:] if packed[0] in _LEADS else packed


def _packed(rows: dict[int, dict[str, Any]]) -> dict[int, bytes]:
    return {seq: bytes(row["packed"]) for seq, row in rows.items() if row["packed"] is not None}


def test_heartbeats_are_packed_and_read_back_byte_for_byte(store: Platform) -> None:
    _ingest(store, _heartbeats(300))
    before = _raw_rows(store.engine)
    assert all(row["packed"] is None for row in before.values())

    assert _compact_all(store.engine) == 300
    after = _raw_rows(store.engine)
    packed = _packed(after)
    assert set(packed) == set(before)  # every heartbeat packs smaller
    assert all(after[seq]["body"] == "" for seq in packed)
    assert sum(map(len, packed.values())) * 3 < sum(len(r["body"]) for r in before.values())
    assert _texts(store.engine) == {seq: row["body"] for seq, row in before.items()}
    assert all(after[seq]["body_hash"] == after[seq]["job_id"] == "" for seq in packed)
    unchanged = {"body", "packed", "body_hash", "job_id"}  # every other column is as it was
    assert ({seq: {k: v for k, v in row.items() if k not in unchanged}
             for seq, row in after.items()}
            == {seq: {k: v for k, v in row.items() if k not in unchanged}
                for seq, row in before.items()})


def test_fields_are_left_out_of_a_packed_body_only_when_the_columns_give_them_back(
        store: Platform) -> None:
    sent = _heartbeats(60)
    odd = sent[40:45]
    odd[0]["actor"] = {**odd[0]["actor"], "email": odd[0]["actor"]["email"].upper()}
    odd[1]["eventTime"] = odd[1]["eventTime"].replace(".000Z", "Z")  # no milliseconds
    odd[2]["extensions"] = {**odd[2]["extensions"],
                            "runId": "urn:uuid:" + odd[2]["extensions"]["runId"]}
    odd[3]["session"] = "urn:uuid:" + str(uuid.UUID(int=99))  # not the run
    del odd[4]["extensions"]["runId"]  # the run from `session`
    _ingest(store, sent)
    before = _raw_rows(store.engine)
    _compact_all(store.engine)
    after = _raw_rows(store.engine)
    assert _texts(store.engine) == {seq: row["body"] for seq, row in before.items()}
    masks = {seq: row["packed"][1] for seq, row in after.items()
             if row["packed"][0] == TAKEN_OUT_WITH_BODY_FIELDS}
    # id, eventTime, actor id, actor email, runId, session; generated.id, the items' dates
    every = 0b11111111
    assert set(masks) == set(after)
    assert {seq for seq, mask in masks.items() if mask == every} == set(range(1, 61)) - set(
        range(41, 46))
    assert [masks[seq] for seq in range(41, 46)] == [
        every & ~0b1000, every & ~0b10, every & ~0b10000, every & ~0b100000, every & ~0b10000]


def test_a_body_in_another_json_writing_is_packed_whole_and_read_back_as_it_was(
        store: Platform) -> None:
    """Bodies stored by an older writer (here json.dumps, with spaces) keep every byte."""
    _ingest(store, _heartbeats(40))
    with store.engine.begin() as conn:
        for seq, body in conn.execute(sa.select(events.c.seq, events.c.body)
                                      .where(events.c.seq > 30)).all():
            conn.execute(events.update().where(events.c.seq == seq)
                         .values(body=json.dumps(json.loads(body))))
    before = _raw_rows(store.engine)
    assert _compact_all(store.engine) == 40
    after = _raw_rows(store.engine)
    assert _texts(store.engine) == {seq: row["body"] for seq, row in before.items()}
    assert {seq for seq, row in after.items() if row["packed"][0] not in _LEADS} == set(
        range(31, 41))


def test_a_compacted_event_sent_again_is_a_duplicate_or_a_conflict(store: Platform) -> None:
    sent = _heartbeats(100)
    _ingest(store, sent)
    _compact_all(store.engine)
    assert len(_packed(_raw_rows(store.engine))) == 100
    changed = {**sent[7], "extensions": {**sent[7]["extensions"], "courseId": "other"}}
    # The same content in another key order is the same body.
    again = [dict(reversed(list(sent[3].items()))), changed, _heartbeats(1, first=100)[0]]
    job = store.ingestor.ingest(parse_envelope(orjson.dumps(
        envelope(SENSOR, again, datetime.now(UTC)))))
    assert [(r.status, r.allocated_id) for r in job.results[:2]] == [
        ("duplicate", "4"), ("conflict", "8")]
    assert job.results[2].status == "stored"  # (PostgreSQL's sequence skips the two above)


def test_compaction_is_idempotent_and_keeps_to_through_seq(store: Platform) -> None:
    _ingest(store, _heartbeats(120))
    assert _compact_all(store.engine, through_seq=80) == 80
    first = _raw_rows(store.engine)
    assert set(_packed(first)) == set(range(1, 81))
    with store.engine.begin() as conn:
        assert compacted_through(conn) == 80
        assert compact_events(conn, 80, 50, POLICY) == 0
        assert compact_events(conn, 40, 50, POLICY) == 0
    assert _raw_rows(store.engine) == first

    _ingest(store, _heartbeats(30, first=120))
    assert _compact_all(store.engine) == 70  # 81..150, nothing twice
    again = _raw_rows(store.engine)
    assert set(_packed(again)) == set(range(1, 151))
    assert {seq: _packed(again)[seq] for seq in range(1, 81)} == _packed(first)


def test_a_rolled_back_compaction_leaves_every_row_as_it_was(store: Platform) -> None:
    _ingest(store, _heartbeats(100))
    before = _raw_rows(store.engine)

    class Crash(Exception):
        pass

    with pytest.raises(Crash), store.engine.begin() as conn:
        assert compact_events(conn, 100, 60, POLICY) == 60
        assert conn.execute(sa.select(sa.func.count()).where(events.c.packed.isnot(None))
                            ).scalar_one() == 60
        raise Crash
    assert _raw_rows(store.engine) == before
    with store.engine.connect() as conn:
        assert compacted_through(conn) == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(compression_dictionaries)
                            ).scalar_one() == 0
    assert _compact_all(store.engine) == 100
    assert _texts(store.engine) == {seq: row["body"] for seq, row in before.items()}


KILLED_COMPACTOR = """
import sys
import sqlalchemy as sa
from timeledger.server.store.compaction import CompactionPolicy, compact_events
from timeledger.server.store.database import create_engine

engine = create_engine(sys.argv[1])
policy = CompactionPolicy(first_training_events=20, training_samples=400)
while True:
    with engine.begin() as conn:
        passed = compact_events(conn, 10**9, 5, policy)
    print(passed, flush=True)
    if not passed:
        break
"""


def test_a_killed_compactor_leaves_every_row_readable(store: Platform) -> None:
    _ingest(store, _heartbeats(600))
    before = {seq: row["body"] for seq, row in _raw_rows(store.engine).items()}
    url = store.engine.url.render_as_string(hide_password=False)
    compactor = subprocess.Popen([sys.executable, "-c", KILLED_COMPACTOR, url],
                                 stdout=subprocess.PIPE, text=True)
    try:
        assert compactor.stdout is not None
        assert compactor.stdout.readline().strip() == "5"  # one batch committed, more to do
    finally:
        compactor.kill()
        compactor.wait()
    partly = _raw_rows(store.engine)
    with store.engine.connect() as conn:
        through = compacted_through(conn)
    assert 5 <= through < 600
    assert set(_packed(partly)) == set(range(1, through + 1))  # a batch is all or nothing
    assert _texts(store.engine) == before
    assert _compact_all(store.engine) == 600 - through
    assert set(_packed(_raw_rows(store.engine))) == set(before)
    assert _texts(store.engine) == before


def test_rows_packed_with_an_older_dictionary_stay_readable(store: Platform) -> None:
    policy = CompactionPolicy(first_training_events=20, training_samples=100, retrain_growth=2)
    sent = _heartbeats(100)
    _ingest(store, sent)
    _compact_all(store.engine, policy)
    sent += _heartbeats(200, first=100)
    _ingest(store, sent[100:])
    _compact_all(store.engine, policy)
    before = {seq: row["packed"] for seq, row in _raw_rows(store.engine).items()}
    with store.engine.connect() as conn:
        dictionaries = conn.execute(sa.select(compression_dictionaries.c.id,
                                              compression_dictionaries.c.trained_through_seq)
                                    ).all()
    assert sorted(d.trained_through_seq for d in dictionaries) == [100, 300]
    used = {zstandard.get_frame_parameters(_frame(packed)).dict_id for packed in before.values()}
    assert used == {d.id for d in dictionaries}
    fresh = sa.create_engine(store.engine.url)  # nothing cached: each dictionary read again
    try:
        texts = _texts(fresh)
    finally:
        fresh.dispose()
    assert {seq: json.loads(text) for seq, text in texts.items()} == dict(enumerate(sent, 1))


def test_a_body_that_would_not_pack_smaller_stays_text(store: Platform) -> None:
    _ingest(store, _heartbeats(50))
    with store.engine.begin() as conn:  # a row written by hand: two bytes, less than any frame
        append_rows(conn, [{
            "event_id": "urn:x:tiny", "body_hash": "0" * 64, "kind": "entity", "type": "Thing",
            "action": None, "profile": None, "actor_id": None, "learner_email": None,
            "run_id": None, "event_time": None, "sensor": SENSOR, "received_at": datetime.now(UTC),
            "job_id": "by-hand", "body": "{}", "partition": None}])
    _ingest(store, _heartbeats(10, first=50))
    assert _compact_all(store.engine) == 61
    rows = _raw_rows(store.engine)
    assert set(_packed(rows)) == set(range(1, 62)) - {51}
    assert (rows[51]["body"], rows[51]["packed"]) == ("{}", None)
    assert _texts(store.engine)[51] == "{}"
    with store.engine.begin() as conn:
        assert compacted_through(conn) == 61
        assert compact_events(conn, 61, 50, POLICY) == 0


def test_two_compactors_at_once_leave_every_row_readable(store: Platform) -> None:
    """The command run beside a projector that compacts: neither fails, nothing is lost."""
    _ingest(store, _heartbeats(600))
    before = {seq: row["body"] for seq, row in _raw_rows(store.engine).items()}
    with ThreadPoolExecutor(2) as pool:
        done = [pool.submit(_compact_all, store.engine, POLICY, limit) for limit in (7, 50)]
        passed = [future.result() for future in done]
    assert max(passed) > 0
    _compact_all(store.engine)  # whatever the two left
    assert set(_packed(_raw_rows(store.engine))) == set(before)
    assert _texts(store.engine) == before
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(compression_dictionaries)
                            ).scalar_one() == 1


@pytest.mark.backends("pg")
def test_on_postgresql_a_second_compactor_returns_at_once(store: Platform) -> None:
    _ingest(store, _heartbeats(100))
    with store.engine.connect() as first, store.engine.connect() as second:
        with first.begin():
            assert compact_events(first, 100, 40, POLICY) == 40
            with second.begin():
                # Were it to wait for the first one's rows, it would fail here instead.
                second.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                assert compact_events(second, 100, 40, POLICY) == 0
        with second.begin():
            assert compact_events(second, 100, 100, POLICY) == 60
    assert set(_packed(_raw_rows(store.engine))) == set(range(1, 101))


def test_nothing_is_compacted_before_a_dictionary_can_be_trained(store: Platform) -> None:
    _ingest(store, _heartbeats(19))
    with store.engine.begin() as conn:
        assert compact_events(conn, 19, 100, POLICY) == 0
        assert compacted_through(conn) == 0
    assert not _packed(_raw_rows(store.engine))
    _ingest(store, _heartbeats(1, first=19))
    assert _compact_all(store.engine) == 20


def _cli_store_args(platform: Platform) -> list[str]:
    return ["--db", platform.engine.url.render_as_string(hide_password=False)]


def test_the_compact_command_compacts_what_is_stored(store: Platform) -> None:
    _ingest(store, _heartbeats(999))
    waiting = run_cli("compact", *_cli_store_args(store))
    assert waiting.stdout.strip() == ("nothing compacted yet: the log ends at #999, and the first "
                                      "dictionary is trained once it holds 1000 events")
    assert not _packed(_raw_rows(store.engine))

    _ingest(store, _heartbeats(201, first=999))
    before = {seq: row["body"] for seq, row in _raw_rows(store.engine).items()}
    done = run_cli("compact", *_cli_store_args(store), "--batch-size", "500")
    assert done.stdout.strip() == "went past 1200 event(s): the log is compacted through #1200"
    assert set(_packed(_raw_rows(store.engine))) == set(before)
    assert _texts(store.engine) == before
    again = run_cli("compact", *_cli_store_args(store))
    assert again.stdout.strip() == "went past 0 event(s): the log is compacted through #1200"
    refused = run_cli("compact", *_cli_store_args(store), "--batch-size", "0", check=False)
    assert refused.returncode == 2 and "--batch-size" in refused.stderr


@pytest.mark.parametrize("limit", [0, -1, compaction.MAX_BATCH + 1])
def test_a_limit_out_of_bounds_is_refused(store: Platform, limit: int) -> None:
    with store.engine.begin() as conn, pytest.raises(ValueError, match="limit must be between"):
        compact_events(conn, 10, limit, POLICY)


def test_policies_that_could_never_train_are_refused() -> None:
    with pytest.raises(ValueError, match="first_training_events"):
        CompactionPolicy(first_training_events=3)
    with pytest.raises(ValueError, match="training_samples"):
        CompactionPolicy(first_training_events=50, training_samples=20)


def test_downgrade_turns_compacted_bodies_back_into_text(store: Platform) -> None:
    _ingest(store, _heartbeats(60))
    before = {seq: row["body"] for seq, row in _raw_rows(store.engine).items()}
    digests = {seq: _digest(body) for seq, body in before.items()}
    _compact_all(store.engine)
    assert len(_packed(_raw_rows(store.engine))) == 60
    downgrade(store.engine, "0017")  # before compaction emptied body_hash: put back
    with store.engine.connect() as conn:  # as stored then (the code's types read today's times)
        assert dict(conn.execute(sa.text("SELECT seq, body_hash FROM events")).all()) == digests
    downgrade(store.engine, "0006")
    with store.engine.connect() as conn:
        assert dict(conn.execute(sa.text("SELECT seq, body FROM events")).all()) == before
    upgrade(store.engine)
    assert _texts(store.engine) == before


def test_downgrade_packs_bodies_again_without_the_fields_the_body_gives(store: Platform) -> None:
    """0033's downgrade: code before it reads a 0x01 body (the columns' fields taken out)."""
    _ingest(store, _heartbeats(40) + _sdk_items())
    before = {seq: row["body"] for seq, row in _raw_rows(store.engine).items()}
    _compact_all(store.engine)
    packed = _packed(_raw_rows(store.engine))
    assert {body[0] for body in packed.values()} == {TAKEN_OUT_WITH_BODY_FIELDS}
    downgrade(store.engine, "0032")
    again = _packed(_raw_rows(store.engine))
    assert {seq: (body[0], body[1]) for seq, body in again.items()} == {
        seq: (TAKEN_OUT, body[1] & 0b111111) for seq, body in packed.items()}
    assert {_dictionary_id(body) for body in again.values()} == {
        _dictionary_id(body) for body in packed.values()}
    assert _texts(store.engine) == before
    upgrade(store.engine)
    assert _texts(store.engine) == before


def _dictionary_id(packed: bytes) -> int:
    return int(zstandard.get_frame_parameters(_frame(packed)).dict_id)


def test_downgrade_writes_the_digest_of_rows_appended_without_one(store: Platform) -> None:
    _ingest(store, _heartbeats(30))
    rows = _raw_rows(store.engine)
    assert {row["body_hash"] for row in rows.values()} == {""}  # made only when an id comes again
    downgrade(store.engine, "0026")  # code before 0027 reads '' as compacted: written back
    with store.engine.connect() as conn:
        assert dict(conn.execute(sa.text("SELECT seq, body_hash FROM events")).all()) == {
            seq: _digest(row["body"]) for seq, row in rows.items()}
    upgrade(store.engine)


def _digest(body: str) -> str:
    """sha256 of the event's JSON with sorted keys: the digest code before 0027 stored."""
    return hashlib.sha256(orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)).hexdigest()


def _projections(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {table.name: [dict(row._mapping) for row in conn.execute(
            sa.select(table).order_by(*table.primary_key.columns))] for table in PROJECTION_TABLES}


def test_rebuild_after_compaction_gives_the_same_projections(store: Platform) -> None:
    sent = _heartbeats(150)
    sent += [completed_event(actor=Learner(f"learner{n}@example.edu", f"l{n}").actor(SENSOR),
                             activity=REF, run_id=str(uuid.UUID(int=n + 1)),
                             ended_at=datetime(2025, 3, 4, 9, n, tzinfo=UTC),
                             metrics=Metrics(xp_earned=10 + n, total_questions=5,
                                             correct_questions=n % 5))
             for n in range(7)]
    _ingest(store, sent)
    store.project_pending()
    built = _projections(store.engine)
    assert built["runs"] and built["run_windows"]
    _compact_all(store.engine)
    assert len(_packed(_raw_rows(store.engine))) == len(sent)
    report = rebuild(store.engine, store.pipeline_settings)
    assert not report.unreadable
    assert _projections(store.engine) == built


# --- every reader over HTTP and the CLI, on every fixture -------------------------------------

def _fixture_items() -> list[dict[str, Any]]:
    """Every item of every valid IMS conformance file and every Timeback fixture envelope."""
    require_shared()
    paths = [p for p in sorted((CALIPER_FIXTURES / "valid").iterdir())
             if p.is_file() and p.name != ENDPOINT_CONFIG_FILE]
    paths += sorted(p for p in TIMEBACK_FIXTURES.glob("*.json") if "envelope" in p.name)
    items: list[dict[str, Any]] = []
    for path in paths:
        document = json.loads(fixture_body(path))
        assert is_envelope(document), path
        items += document["data"]
    return items


def _sdk_items() -> list[dict[str, Any]]:
    """Heartbeats and completions as the SDK builds them, some changed where a packed body
    leaves out what the rest of it gives (generated.id, the items' dates)."""
    made = [*_heartbeats(12), completed_event(
        actor=Learner("learner1@example.edu", "l1").actor(SENSOR), activity=REF,
        run_id=str(uuid.UUID(int=2)), ended_at=datetime(2025, 3, 4, 9, tzinfo=UTC),
        metrics=Metrics(xp_earned=10, total_questions=5, correct_questions=4))]
    made[1]["generated"]["items"][0]["endDate"] = "2025-03-03T08:00:29.000Z"  # not eventTime
    made[2]["generated"]["items"][1]["startDate"] = "2025-03-03T08:00:31.000Z"  # not the first's
    made[3]["generated"]["id"] = "urn:uuid:" + str(uuid.UUID(int=3))  # not derived
    del made[4]["generated"]["items"][1]["endDate"]
    made[5]["generated"]["items"][0]["endDate"] = made[5]["eventTime"].replace(".000Z", "Z")
    return made


def _every_page(fetch: Callable[[int | None], dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    before: int | None = None
    while True:
        page = fetch(before)
        found += page["events"]
        before = page["next"]
        if before is None:
            return found


def _read_through_every_reader(platform: PlatformProcess) -> dict[str, Any]:
    listed = _every_page(lambda before: platform.get(
        "/caliper/events", limit=100, **({"before": before} if before else {})))
    with platform.http() as client:
        explored = _every_page(lambda before: client.get(
            "/data/events", params={"before": before} if before else {}).json())
        by_id = {item["eventId"]: client.get(
            f"/caliper/events/{quote(item['eventId'], safe='')}").text for item in listed}
    return {
        "listed": {item["seq"]: item["event"] for item in listed},
        "explored": {item["seq"]: item["event"] for item in explored},
        "by_id": {event_id: json.loads(text)["event"] for event_id, text in by_id.items()},
        "by_id_text": by_id,
        "exported": platform.cli("export").stdout,
    }


def test_every_fixture_reads_back_the_same_through_every_reader(backend: Backend,
                                                                tmp_path: Path) -> None:
    sdk_items = _sdk_items()
    items = _fixture_items() + sdk_items
    # No projector: it would compact the store itself once idle, before the test does.
    with PlatformProcess(tmp_path / "platform", db_url=backend.new_db_url(),
                         extra_args=["--projectors", "0"]) as platform:
        for first in range(0, len(items), 200):
            reply = platform.send(envelope(SENSOR, items[first:first + 200], datetime.now(UTC)),
                                  projected=False)
            assert reply.status_code == 200, reply.text
        engine = sa.create_engine(platform.database_url())
        try:
            rows = _raw_rows(engine)
            stored = {seq: json.loads(row["body"]) for seq, row in rows.items()}
            stored_by_id = {row["event_id"]: stored[seq] for seq, row in rows.items()}
            assert ({event["id"] for event in stored.values() if "id" in event}
                    == {item["id"] for item in items if "id" in item})  # each id, stored once
            before = _read_through_every_reader(platform)
            assert before["listed"] == before["explored"] == stored
            assert before["by_id"] == stored_by_id

            assert _compact_all(engine) == len(stored)
            packed = _packed(_raw_rows(engine))
            assert len(packed) > len(stored) * 0.9
            leads = {rows[seq]["event_id"]: (body[0], body[1]) for seq, body in packed.items()}
            sdk = [leads[item["id"]] for item in sdk_items]
            every = 0b11111111  # the columns' six fields, generated.id, the items' dates
            assert sdk == [(TAKEN_OUT_WITH_BODY_FIELDS, every)] * 3 + [
                (TAKEN_OUT_WITH_BODY_FIELDS, every & ~0b1000000)] + [
                (TAKEN_OUT_WITH_BODY_FIELDS, every)] * 8 + [
                (TAKEN_OUT_WITH_BODY_FIELDS, every & ~0b10000000)]
            # The fixtures' generated ids are not derived and their items carry no dates: only
            # the columns' fields are taken out, under the byte older rows have.
            fixtures = [leads[item["id"]] for item in items[:-len(sdk_items)]
                        if item.get("id") in leads]
            assert fixtures and {lead for lead, _ in fixtures} == {TAKEN_OUT}
            after = _read_through_every_reader(platform)
        finally:
            engine.dispose()
    assert after["listed"] == after["explored"] == stored
    assert after["by_id"] == stored_by_id
    assert after["by_id_text"] == before["by_id_text"]  # byte for byte
    assert after["exported"] == before["exported"]  # byte for byte
    assert [json.loads(line) for line in after["exported"].splitlines()] == list(stored.values())
