"""Storage compaction on the heartbeat bench: the store's bytes per event without it and with it.

Ingests bench/ingest.py's heartbeat envelopes into two temp SQLite stores, in rounds; after each
round both project what was appended, and one also compacts it (as the projector does, in
batches of its own transactions). Prints each store's bytes per event by table and index, then
`bytes_per_event_before=<n> bytes_per_event_after=<n> ratio=<x>`.
Run: `.venv/bin/python bench/compaction.py [--envelopes 200] [--round 10]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the bench scripts: `bench.*`

from bench.ingest import EVENTS_PER_ENVELOPE, build_envelopes
from bench.storage import bytes_per_event, bytes_per_event_by_object

from timeledger.caliper.envelope import parse_envelope
from timeledger.server.platform import open_platform
from timeledger.server.settings import Settings
from timeledger.server.store.compaction import compact_events
from timeledger.server.store.schema import events

COMPACTION_BATCH = 1000


def fill(db_path: Path, bodies: list[bytes], per_round: int, compact: bool) -> float:
    """Ingest and project every envelope; returns the seconds spent compacting."""
    platform = open_platform(Settings(db_url=f"sqlite:///{db_path}"))
    compacting = 0.0
    try:
        for first in range(0, len(bodies), per_round):
            platform.ingestor.ingest_many(
                [parse_envelope(body) for body in bodies[first:first + per_round]])
            platform.project_pending()
            if compact:
                compacting += _compact_all(platform.engine)
    finally:
        platform.close()
    return compacting


def _compact_all(engine: sa.Engine) -> float:
    began = time.perf_counter()
    with engine.connect() as conn:
        through = int(conn.execute(sa.select(sa.func.max(events.c.seq))).scalar_one())
    while True:
        with engine.begin() as conn:
            if not compact_events(conn, through, COMPACTION_BATCH):
                break
    return time.perf_counter() - began


def _show(title: str, db_path: Path) -> None:
    print(f"{title}: bytes per event by table and index")
    for name, size in list(bytes_per_event_by_object(db_path).items())[:14]:
        print(f"  {name:36s} {size:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envelopes", type=int, default=200)
    parser.add_argument("--round", type=int, default=10, help="Envelopes between compactions.")
    args = parser.parse_args()
    bodies = build_envelopes(args.envelopes)
    with tempfile.TemporaryDirectory() as tmp:
        plain, compacted = Path(tmp) / "plain.sqlite3", Path(tmp) / "compacted.sqlite3"
        fill(plain, bodies, args.round, compact=False)
        seconds = fill(compacted, bodies, args.round, compact=True)
        _show("without compaction", plain)
        _show("with compaction", compacted)
        before, after = bytes_per_event(plain), bytes_per_event(compacted)
    count = args.envelopes * EVENTS_PER_ENVELOPE
    print(f"events={count} compaction_us_per_event={seconds / count * 1e6:.1f}")
    print(f"bytes_per_event_before={before:.0f} bytes_per_event_after={after:.0f} "
          f"ratio={after / before:.3f}")


if __name__ == "__main__":
    main()
