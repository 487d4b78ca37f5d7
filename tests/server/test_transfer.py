"""`timeledger import` and `export`: the offline-sync path, checked and idempotent like HTTP."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.events import T0, completion, heartbeat, unique_email, wrap
from tests.support.platform import NewStore, StoreLocation, run_cli
from tests.support.shared import timeback_fixture


def _count(store: StoreLocation, email: str) -> int:
    done = run_cli("export", *store.args(), "--learner", email)
    return len(done.stdout.splitlines())


def test_export_then_import_elsewhere_round_trips(new_store: NewStore, tmp_path: Path) -> None:
    source, target = new_store("source"), new_store("target")
    email = unique_email()
    run = str(uuid.uuid4())
    events = [heartbeat(email, run, T0 + timedelta(seconds=15 * i), 15) for i in range(4)]
    events.append(completion(email, run, T0 + timedelta(minutes=1), 1, 4, 4))
    envelope_file = tmp_path / "batch.json"
    envelope_file.write_text(json.dumps(wrap(*events)))
    first = run_cli("import", str(envelope_file), *source.args())
    assert "accepted=5 duplicates=0 conflicts=0 rejected=0" in first.stderr

    exported = tmp_path / "events.ndjson"
    run_cli("export", *source.args(), "-o", str(exported))
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert lines == events

    into_target = run_cli("import", str(exported), *target.args())
    assert "accepted=5 duplicates=0" in into_target.stderr
    again = run_cli("import", str(exported), *target.args())
    assert "accepted=0 duplicates=5 conflicts=0 rejected=0" in again.stderr
    assert _count(target, email) == 5


def test_bad_lines_are_reported_by_line_and_path_and_the_rest_kept(new_store: NewStore,
                                                                   tmp_path: Path) -> None:
    store = new_store("db")
    email = unique_email()
    run = str(uuid.uuid4())
    good = [heartbeat(email, run, T0 + timedelta(seconds=15 * i), 15) for i in range(3)]
    bad = heartbeat(email, run, T0 + timedelta(minutes=5), 15)
    bad["generated"]["items"][0]["value"] = -3
    ndjson = tmp_path / "offline.ndjson"
    ndjson.write_text("\n".join([json.dumps(good[0]), json.dumps(bad), "{not json",
                                 json.dumps(good[1]), json.dumps(good[2])]) + "\n")
    done = run_cli("import", str(ndjson), *store.args(), check=False)
    assert done.returncode == 1
    assert "offline.ndjson:2 at generated.items[0].value" in done.stderr
    assert "offline.ndjson:3" in done.stderr
    assert "accepted=3 duplicates=0 conflicts=0 rejected=2" in done.stderr
    assert _count(store, email) == 3


def test_an_invalid_envelope_is_rejected_whole(new_store: NewStore, tmp_path: Path) -> None:
    store = new_store("db")
    envelope = timeback_fixture("envelope-batch-two-events.json")
    envelope["data"][1]["eventTime"] = "2025-01-15T10:05:00+05:00"
    path = tmp_path / "bad-envelope.json"
    path.write_text(json.dumps(envelope))
    done = run_cli("import", str(path), *store.args(), check=False)
    assert done.returncode == 1
    assert "bad-envelope.json at data[1].eventTime" in done.stderr
    assert "accepted=0" in done.stderr
    listed = run_cli("export", *store.args()).stdout
    assert listed == ""


def test_export_filters_by_type_and_time(new_store: NewStore, tmp_path: Path) -> None:
    email = unique_email()
    run = str(uuid.uuid4())
    events = [heartbeat(email, run, T0 + timedelta(hours=i), 15) for i in range(3)]
    events.append(completion(email, run, T0 + timedelta(hours=3), 2))
    path = tmp_path / "in.json"
    path.write_text(json.dumps(wrap(*events)))
    db = new_store("db").args()
    run_cli("import", str(path), *db)
    completions = run_cli("export", *db, "--type", "ActivityEvent").stdout.splitlines()
    assert [json.loads(line)["id"] for line in completions] == [events[3]["id"]]
    middle = run_cli("export", *db, "--from", "2025-01-13T11:00:00Z",
                     "--to", "2025-01-13T12:00:00Z").stdout.splitlines()
    assert [json.loads(line)["id"] for line in middle] == [events[1]["id"]]
    refused = run_cli("export", *db, "--from", "monday", check=False)
    assert refused.returncode != 0


def test_a_bare_pretty_printed_event_and_an_event_list_are_imported(new_store: NewStore,
                                                                     tmp_path: Path) -> None:
    store = new_store("db")
    email = unique_email()
    run = str(uuid.uuid4())
    events = [heartbeat(email, run, T0 + timedelta(seconds=15 * i), 15) for i in range(3)]
    bare = tmp_path / "one-event.json"
    bare.write_text(json.dumps(events[0], indent=2))
    listed = tmp_path / "events.json"
    listed.write_text(json.dumps(events[1:], indent=2))
    done = run_cli("import", str(bare), str(listed), *store.args())
    assert "accepted=3 duplicates=0 conflicts=0 rejected=0" in done.stderr
    assert _count(store, email) == 3


def test_a_bad_bare_event_is_reported_by_file_and_path(new_store: NewStore,
                                                       tmp_path: Path) -> None:
    store = new_store("db")
    bad = heartbeat(unique_email(), str(uuid.uuid4()), T0, 15)
    bad["generated"]["items"][0]["value"] = -3
    path = tmp_path / "bad-event.json"
    path.write_text(json.dumps(bad, indent=2))
    done = run_cli("import", str(path), *store.args(), check=False)
    assert done.returncode == 1
    assert "bad-event.json at generated.items[0].value" in done.stderr
    assert done.stderr.count("rejected ") == 1


def test_a_file_that_is_neither_json_nor_ndjson_gets_one_error_saying_what_was_expected(
        new_store: NewStore, tmp_path: Path) -> None:
    store = new_store("db")
    event = heartbeat(unique_email(), str(uuid.uuid4()), T0, 15)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(event, indent=2)[:-3])  # cut short: not one JSON document
    done = run_cli("import", str(path), *store.args(), check=False)
    assert done.returncode == 1
    rejections = [line for line in done.stderr.splitlines() if line.startswith("rejected ")]
    assert len(rejections) == 1, done.stderr
    assert "expected a Caliper envelope, one event, a JSON array" in rejections[0]
    assert "rejected=1" in done.stderr


def test_export_takes_days_in_the_platform_time_zone(new_store: NewStore, tmp_path: Path) -> None:
    email = unique_email()
    run = str(uuid.uuid4())
    # New York is UTC-5 in January: 04:30Z is the evening before, 05:30Z just after midnight
    starts = [datetime(2025, 1, 13, 4, 30, tzinfo=UTC), datetime(2025, 1, 13, 5, 30, tzinfo=UTC),
              datetime(2025, 1, 14, 4, 30, tzinfo=UTC), datetime(2025, 1, 14, 5, 30, tzinfo=UTC)]
    events = [heartbeat(email, run, start, 15) for start in starts]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(wrap(*events)))
    db = new_store("db").args()
    run_cli("import", str(path), *db, "--timezone", "America/New_York")
    day = run_cli("export", *db, "--from", "2025-01-13", "--to", "2025-01-13").stdout
    assert [json.loads(line)["id"] for line in day.splitlines()] == [e["id"] for e in events[1:3]]
    mixed = run_cli("export", *db, "--from", "2025-01-13T05:00:00Z", "--to", "2025-01-13").stdout
    assert [json.loads(line)["id"] for line in mixed.splitlines()] == [e["id"] for e in events[1:3]]
    refused = run_cli("export", *db, "--from", "2025-02-30", check=False)
    assert refused.returncode != 0 and "--from" in refused.stderr
    assert "no such day" in refused.stderr
