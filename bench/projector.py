"""The projector's CPU per event on a fixed log, against the append of the same events.

Builds a SQLite store whose log holds N appended (not yet projected) Timeback events, 50 learners,
either heartbeats (15 s windows, each learner on one run, as bench/ingest.py sends) or completions
(each on a run of its own, with questions, mastered units and attempts), then projects it in this
process. Prints, per kind, the process CPU time per event of the append (the baseline, measured in
the same run through the real Ingestor) and of the projection, and their ratio; and how long each
batch held SQLite's write lock: from the claim (the projector's first write, which takes the lock)
until its commit returned, in milliseconds, as the mean over batches and the longest, and the
share of the projection's time the lock was held.

    .venv/bin/python bench/projector.py [--events 4000]

Instructions per event, steadier than time on a shared machine (docs/pipeline.md, "What the
projector costs"): build two logs, then count a projection of each with cachegrind and take the
slope, which cancels the interpreter's start-up:

    .venv/bin/python bench/projector.py --build heartbeat 2000 /tmp/hb2k   # and 6000 /tmp/hb6k
    valgrind --tool=cachegrind --cache-sim=no \
        .venv/bin/python bench/projector.py --project /tmp/hb2k
    # per event = (I refs at 6000 - I refs at 2000) / 4000; --project consumes the log: copy first

`--project DIR --only read` (or `plan`) only reads the log through the projector's read_batch
(and plans each batch), writing nothing: the same slopes then split the cost into its phases.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `tests.*`

import sqlalchemy as sa

from tests.support.ledger_world import Ledger, _checked, activity, at, completion, heartbeat
from timeledger.server.pipeline import plan_events
from timeledger.server.pipeline.projector import DEFAULT_BATCH_SIZE, Projector, read_batch
from timeledger.server.store.log_positions import Position

KINDS = ("heartbeat", "completion")
LEARNERS = 50
EVENTS_PER_ENVELOPE = 100


def build_events(kind: str, count: int) -> list[dict[str, Any]]:
    start = at("2025-03-03T08:00:00")
    runs = [str(uuid.uuid4()) for _ in range(LEARNERS)]
    events: list[dict[str, Any]] = []
    for index in range(count):
        learner, step = index % LEARNERS, index // LEARNERS
        email = f"bench{learner}@example.edu"
        if kind == "heartbeat":
            events.append(heartbeat(email, runs[learner], start + timedelta(seconds=15 * step),
                                    12, 3))
        else:
            events.append(completion(
                email, str(uuid.uuid4()), start + timedelta(minutes=10 * step, seconds=learner),
                5.0, total=10, correct=7 + step % 4, mastered=step % 3, pct=min(100.0, step),
                act=activity(f"act-{step % 20}"), attempt=step // 20 + 1))
    return events


def build(kind: str, count: int, folder: Path) -> float:
    """Append `count` events of `kind` to a new store in `folder`; the CPU seconds it took."""
    folder.mkdir(parents=True, exist_ok=True)
    events = build_events(kind, count)
    envelopes = [_checked(events[i:i + EVENTS_PER_ENVELOPE])
                 for i in range(0, len(events), EVENTS_PER_ENVELOPE)]
    ledger = Ledger(folder)
    try:
        began = time.process_time()
        for envelope in envelopes:
            ledger.platform.ingestor.ingest(envelope)
        return time.process_time() - began
    finally:
        ledger.close()


#: The projector's claim of its position, its first write in a batch's transaction: on SQLite the
#: statement that takes the write lock.
CLAIM = "UPDATE projector_positions SET updated_at"


def project(folder: Path) -> tuple[int, float, float, list[float]]:
    """Project the store in `folder` until caught up: rows passed, the CPU and wall seconds it
    took, and the seconds each batch held the write lock (claim to commit)."""
    ledger = Ledger(folder)
    engine = ledger.platform.engine
    claimed: list[float] = []
    held: list[float] = []

    def note_claim(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.startswith(CLAIM):
            claimed.append(time.perf_counter())

    def committed() -> None:
        if len(claimed) > len(held):
            held.append(time.perf_counter() - claimed[-1])

    sa.event.listen(engine, "before_cursor_execute", note_claim)
    projector = Projector(engine, ledger.platform.pipeline_settings, ledger.platform.now,
                          after_commit=committed)
    try:
        began, wall = time.process_time(), time.perf_counter()
        passed = projector.project_until_caught_up()
        return passed, time.process_time() - began, time.perf_counter() - wall, held
    finally:
        sa.event.remove(engine, "before_cursor_execute", note_claim)
        ledger.close()


def read_only(folder: Path, plan: bool) -> int:
    """Read the store's log as the projector does, batch by batch (and plan each batch), without
    applying anything; the log rows passed."""
    ledger = Ledger(folder)
    position, passed = Position(0, 0), 0
    try:
        with ledger.platform.engine.connect() as conn:
            while (batch := read_batch(conn, 0, position, DEFAULT_BATCH_SIZE)) is not None:
                if plan:
                    plan_events(conn, batch.items, ledger.platform.pipeline_settings, ahead=True)
                position, passed = batch.end, passed + batch.row_count
        return passed
    finally:
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--build", nargs=3, metavar=("KIND", "N", "DIR"),
                        help=f"Only build a store of N appended events of KIND {KINDS}.")
    parser.add_argument("--project", metavar="DIR", type=Path,
                        help="Only project the store in DIR (it is projected afterwards).")
    parser.add_argument("--only", choices=("read", "plan"),
                        help="With --project: only read (and plan) the log, applying nothing.")
    args = parser.parse_args()
    if args.build:
        kind, count, folder = args.build
        if kind not in KINDS:
            parser.error(f"KIND is one of {KINDS}, not {kind!r}")
        build(kind, int(count), Path(folder))
        return
    if args.project and args.only:
        print(f"read {read_only(args.project, args.only == 'plan')} log row(s)")
        return
    if args.project:
        passed, _cpu, _wall, _held = project(args.project)
        print(f"projected {passed} log row(s)")
        return
    if args.events < EVENTS_PER_ENVELOPE:
        parser.error(f"--events takes at least {EVENTS_PER_ENVELOPE}")
    for kind in KINDS:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "store"
            appended = build(kind, args.events, folder)
            passed, projected, wall, held = project(folder)
        print(f"kind={kind} events={passed} append_us_per_event={appended * 1e6 / passed:.0f} "
              f"project_us_per_event={projected * 1e6 / passed:.0f} "
              f"project_over_append={projected / appended:.2f} batches={len(held)} "
              f"lock_ms_per_batch={statistics.mean(held) * 1e3:.1f} "
              f"lock_ms_longest={max(held) * 1e3:.1f} lock_share={sum(held) / wall:.2f}")


if __name__ == "__main__":
    main()
