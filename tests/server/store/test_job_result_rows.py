"""Jobs keep their per-event results as log positions and statuses (store/job_result_rows.py):
`GET /jobs/{id}/status` must read back exactly the JSON the append produced, before and after
the projector decides, from rows in the compact form and from rows written as plain lists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from tests.support.ledger_world import Ledger, _checked, at, completion, heartbeat, new_run, resend
from tests.support.postgres import Backend
from timeledger.server.ingestion import JobResult
from timeledger.server.pipeline.job_results import OUTCOME_MESSAGES, job_status
from timeledger.server.store.job_result_rows import encode_outcomes, encode_results, read_results
from timeledger.server.store.schema import events, jobs

START = at("2025-03-03T09:00:00")


@pytest.fixture
def ledger(backend: Backend, tmp_path: Path) -> Iterator[Ledger]:
    made = Ledger(tmp_path, db_url=backend.new_db_url())
    yield made
    made.close()


def _row(ledger: Ledger, job_id: str) -> str:
    with ledger.platform.engine.connect() as conn:
        return str(conn.execute(sa.select(jobs.c.results).where(jobs.c.id == job_id))
                   .scalar_one())


def _seqs(ledger: Ledger) -> dict[str, int]:
    with ledger.platform.engine.connect() as conn:
        return {event_id: seq for event_id, seq in conn.execute(
            sa.select(events.c.event_id, events.c.seq))}


def _as_sent(job: JobResult) -> bytes:
    """The job's results as the append produced them, as the JSON clients are sent."""
    return orjson.dumps([result.to_json() for result in job.results])


def _read(ledger: Ledger, job_id: str) -> list[dict[str, Any]]:
    status = job_status(ledger.platform.engine, job_id, ledger.platform.now())
    assert status is not None
    return status.results


def test_every_status_reads_back_byte_for_byte_before_and_after_projection(
        ledger: Ledger) -> None:
    run = new_run()
    window = heartbeat("ada@example.edu", run, START, 12)
    done = completion("ada@example.edu", run, START + timedelta(minutes=5), 2)
    fresh = heartbeat("ada@example.edu", run, START + timedelta(seconds=30), 12)
    other = heartbeat("ada@example.edu", run, START + timedelta(seconds=60), 12)
    first = ledger.append(window, done)
    second = ledger.append(
        window,                            # the same event again: duplicate
        {**window, "eventTime": "2025-03-03T10:00:00.000Z"},  # its id, another body: conflict
        resend(window),                    # the same window under a new id: duplicate_window
        resend(done),                      # the same completion under a new id
        fresh, fresh,                      # new, then again inside the same envelope
        {**other, "id": fresh["id"]},      # new body under that id inside the envelope: conflict
        other)
    seqs = _seqs(ledger)
    ids = [window["id"], window["id"], None, None, fresh["id"], fresh["id"], fresh["id"],
           other["id"]]
    waiting = _read(ledger, second.job_id)
    assert orjson.dumps(waiting) == _as_sent(second)
    assert [r["status"] for r in waiting] == ["duplicate", "conflict", "stored", "stored",
                                              "stored", "duplicate", "conflict", "stored"]
    assert [int(r["allocatedId"]) for r, i in zip(waiting, ids, strict=True) if i] == [
        seqs[i] for i in ids if i]
    assert not _row(ledger, second.job_id).startswith("[")  # kept compact, not as the list

    ledger.platform.project_pending()
    completed = _read(ledger, second.job_id)
    statuses = [r["status"] for r in completed]
    assert statuses == ["duplicate", "conflict", "duplicate_window", "duplicate_completion",
                        "stored", "duplicate", "conflict", "stored"]
    for result, before in zip(completed, waiting, strict=True):
        if result["status"] in OUTCOME_MESSAGES:
            assert result == {**before, "status": result["status"],
                              "message": OUTCOME_MESSAGES[result["status"]]}
        else:
            assert result == before
    # Recorded as completed on the first read; every later read answers the same bytes.
    assert orjson.dumps(_read(ledger, second.job_id)) == orjson.dumps(completed)
    assert _row(ledger, second.job_id).startswith("{")
    assert orjson.dumps(_read(ledger, first.job_id)) == _as_sent(first)


def test_several_envelopes_in_one_group_commit_each_read_their_own_results(
        ledger: Ledger) -> None:
    run = new_run()
    windows = [heartbeat("bo@example.edu", run, START + timedelta(seconds=15 * i), 12)
               for i in range(7)]
    shared = windows[0]
    sent = ledger.platform.ingestor.ingest_many([
        _checked(windows[0:3]),
        _checked([shared, *windows[3:5]]),  # the first envelope's event, inside the same commit
        _checked(windows[5:7]),
    ])
    assert [len(job.results) for job in sent] == [3, 3, 2]
    for job in sent:
        assert orjson.dumps(_read(ledger, job.job_id)) == _as_sent(job)
    # An envelope's new events have consecutive seqs, even with a duplicate before them in the
    # same transaction: one run each (two for the envelope that starts with the duplicate).
    runs = [orjson.loads(_row(ledger, job.job_id))["r"] for job in sent]
    assert [len(r) // 3 for r in runs] == [1, 2, 1]
    assert [r[1] for r in runs] == [3, 1, 2]


def test_a_bulk_envelope_of_new_events_is_one_short_row(ledger: Ledger) -> None:
    run = new_run()
    job = ledger.append(*[heartbeat("cy@example.edu", run, START + timedelta(seconds=15 * i), 12)
                          for i in range(100)])
    row = _row(ledger, job.job_id)
    first = min(_seqs(ledger).values())
    assert orjson.loads(row) == {"r": [first, 100, 0]}
    assert orjson.dumps(_read(ledger, job.job_id)) == _as_sent(job)


def test_rows_written_as_plain_lists_still_read_and_complete(ledger: Ledger) -> None:
    run = new_run()
    window = heartbeat("di@example.edu", run, START, 12)
    job = ledger.append(window, resend(window), window)
    plain = _as_sent(job).decode()
    with ledger.platform.engine.begin() as conn:  # as the platform wrote jobs before
        conn.execute(jobs.update().where(jobs.c.id == job.job_id).values(results=plain))
    assert orjson.dumps(_read(ledger, job.job_id)) == plain.encode()
    ledger.platform.project_pending()
    completed = _read(ledger, job.job_id)
    assert [r["status"] for r in completed] == ["stored", "duplicate_window", "duplicate"]
    assert orjson.dumps(_read(ledger, job.job_id)) == orjson.dumps(completed)


def test_any_status_and_message_round_trip_and_other_shapes_stay_plain(ledger: Ledger) -> None:
    run = new_run()
    job = ledger.append(*[heartbeat("ed@example.edu", run, START + timedelta(seconds=15 * i), 12)
                          for i in range(4)])
    stored = [r.to_json() for r in job.results]
    statuses = ["unprojectable", "stored", "duplicate_completion", "duplicate_window"]
    varied = [{**r, "status": s, "message": f"{s} ✓"} if s != "stored" else r
              for r, s in zip(stored, statuses, strict=True)]
    cases = [
        varied,
        [*reversed(stored), stored[0], stored[0]],  # seqs counting down, then one repeated
        [{**stored[0], "message": ""}],             # an empty message is kept as given
        [],
    ]
    plain_cases = [
        [{**stored[0], "allocatedId": None}],       # not a seq
        [{**stored[0], "allocatedId": "0" + stored[0]["allocatedId"]}],  # not as str(seq)
        [{"externalId": stored[0]["externalId"], "allocatedId": stored[0]["allocatedId"],
          "status": "stored"}],                     # other key order
        [{**stored[0], "extra": 1}],
    ]
    with ledger.platform.engine.connect() as conn:
        for results in cases:
            text = encode_results(results)
            assert orjson.dumps(read_results(conn, text)) == orjson.dumps(results)
        for results in plain_cases:
            text = encode_results(results)
            assert orjson.loads(text) == results
            assert orjson.dumps(read_results(conn, text)) == orjson.dumps(results)
        missing = encode_results([{**stored[0], "allocatedId": "999999999"}])
        with pytest.raises(LookupError, match="999999999"):
            read_results(conn, missing)


def test_outcomes_make_one_run_only_where_their_seqs_count_up_by_one() -> None:
    stored = [(seq, "stored", None) for seq in (41, 42, 43, 44)]
    assert encode_outcomes(stored) == '{"r":[41,4,0]}'
    # the first and last seqs three apart, but not counting up one by one
    shuffled = [(seq, "stored", None) for seq in (41, 43, 42, 44)]
    assert encode_outcomes(shuffled) == '{"r":[41,1,0,43,1,0,42,1,0,44,1,0]}'
    with_message = [(41, "stored", None), (42, "stored", "note")]
    assert encode_outcomes(with_message) == \
        '{"r":[41,1,0,42,1,1],"k":[["stored"],["stored","note"]]}'
    assert encode_outcomes([(41, "duplicate", None), (42, "stored", None)]) == \
        '{"r":[41,1,0,42,1,1],"k":[["duplicate"],["stored"]]}'
