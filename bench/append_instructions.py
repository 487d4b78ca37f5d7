"""Instructions per event of the request path's SQLite append: what a busy machine does not skew.

Appends bench/ingest.py's heartbeats in process, as the ingestion builds their rows
(`event_appends.append_values`, 100 a transaction), under `valgrind --tool=cachegrind
--cache-sim=no`, 1,000 and then 5,000 events; rows for 5,000 are built in both runs, so the
slope between the two is the append alone. Twice: with 50 learners (each text of a heartbeat's
sensor, actor id and e-mail is known after the first envelopes) and with a new learner for every
event (each brings two texts to intern: store/interned_texts.py). Needs valgrind; takes a few
minutes.
Last line: `steady_instr=<n> new_learner_instr=<n> ratio=<x>` (per event; new learner / steady).
Run: `.venv/bin/python bench/append_instructions.py`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `bench.*`

from bench.ingest import EVENTS_PER_ENVELOPE, build_envelopes
from timeledger.caliper.envelope import parse_envelope
from timeledger.server.ingestion import Ingestor
from timeledger.server.store.database import create_engine
from timeledger.server.store.event_appends import append_values
from timeledger.server.store.migrate import upgrade

BUILT = 5000  # events whose rows are built in every run
COUNTS = (1000, 5000)


def append(count: int, learners: int) -> None:
    """Append the first `count` of `BUILT` heartbeats' rows to a new store."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/append.sqlite3")
        try:
            upgrade(engine)
            ingestor = Ingestor(engine, lambda: datetime.now(UTC))
            received = datetime.now(UTC)
            batches = [ingestor._rows(parse_envelope(body), received, f"job-{n}")
                       for n, body in enumerate(build_envelopes(BUILT // EVENTS_PER_ENVELOPE,
                                                                learners=learners))]
            for rows in batches[:count // EVENTS_PER_ENVELOPE]:
                with engine.begin() as conn:
                    append_values(conn, rows)
        finally:
            engine.dispose()


def instructions(count: int, learners: int) -> int:
    """cachegrind's `I refs` for a run of `append(count, learners)` in a process of its own."""
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, __file__, "--append", str(count), str(learners)],
        capture_output=True, text=True, check=True)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr}")
    return int(found.group(1).replace(",", ""))


def per_event(learners: int) -> float:
    low, high = (instructions(count, learners) for count in COUNTS)
    return (high - low) / (COUNTS[1] - COUNTS[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--append", nargs=2, type=int, metavar=("EVENTS", "LEARNERS"),
                        help="Only append (the process valgrind counts).")
    args = parser.parse_args()
    if args.append is not None:
        append(*args.append)
        return
    steady, new_learner = per_event(50), per_event(BUILT)
    print(f"steady_instr={steady:.0f} new_learner_instr={new_learner:.0f} "
          f"ratio={new_learner / steady:.3f}")


if __name__ == "__main__":
    main()
