"""`timeledger import` and `export`: the offline-sync path, checked and idempotent like HTTP."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

from support.events import T0, completion, heartbeat, unique_email, wrap
from support.platform import NewStore, StoreLocation, run_cli
from support.shared import timeback_fixture


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
