"""Storage compaction on the heartbeat bench: the store's bytes per event without it and with it.

Ingests bench/ingest.py's heartbeat envelopes into two temp stores, in rounds; after each round
both project what was appended, and one also compacts it (as the projector does, in batches of
their own transactions). Prints each store's bytes per event by table and index, then
`bytes_per_event_before=<n> bytes_per_event_after=<n> ratio=<x>`.
On SQLite (the default) the size is the file's after a TRUNCATE checkpoint. With `--pg` the
stores are databases on a throwaway PostgreSQL cluster, the size is every relation's (TOAST and
indexes included), and each round ends with a plain VACUUM, as autovacuum would run.
Run: `.venv/bin/python bench/compaction.py [--envelopes 200] [--round 10] [--pg]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `bench.*`, `tests.*`

from bench.ingest import EVENTS_PER_ENVELOPE, build_envelopes
from bench.storage import (
    bytes_per_event,
    bytes_per_event_by_object,
    pg_bytes_per_event,
    pg_bytes_per_event_by_object,
)
from tests.support.postgres import PostgresCluster
from timeledger.caliper.envelope import parse_envelope
from timeledger.server.platform import open_platform
from timeledger.server.settings import Settings
from timeledger.server.store.compaction import compact_events
from timeledger.server.store.schema import events

COMPACTION_BATCH = 1000


def fill(url: str, bodies: list[bytes], per_round: int, compact: bool) -> float:
    """Ingest and project every envelope; returns the seconds spent compacting."""
    platform = open_platform(Settings(db_url=url))
    compacting = 0.0
    try:
        for first in range(0, len(bodies), per_round):
            platform.ingestor.ingest_many(
                [parse_envelope(body) for body in bodies[first:first + per_round]])
            platform.project_pending()
            if compact:
                compacting += _compact_all(platform.engine)
            if platform.engine.dialect.name == "postgresql":
                with platform.engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM")
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


def _show(title: str, sizes: dict[str, float]) -> None:
    print(f"{title}: bytes per event by table and index")
    for name, size in list(sizes.items())[:14]:
        print(f"  {name:36s} {size:8.1f}")


def _measure(urls: tuple[str, str], bodies: list[bytes], per_round: int,
             sizes: Callable[[str], dict[str, float]],
             total: Callable[[str], float]) -> tuple[float, float, float]:
    plain, compacted = urls
    fill(plain, bodies, per_round, compact=False)
    seconds = fill(compacted, bodies, per_round, compact=True)
    _show("without compaction", sizes(plain))
    _show("with compaction", sizes(compacted))
    return total(plain), total(compacted), seconds


def _on_engine(measure: Callable[[sa.Engine], float | dict[str, float]]) -> Callable[[str], Any]:
    def run(url: str) -> Any:
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            return measure(engine)
        finally:
            engine.dispose()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envelopes", type=int, default=200)
    parser.add_argument("--round", type=int, default=10, help="Envelopes between compactions.")
    parser.add_argument("--pg", action="store_true", help="On a throwaway PostgreSQL cluster.")
    args = parser.parse_args()
    bodies = build_envelopes(args.envelopes)
    if args.pg:
        with PostgresCluster() as cluster:
            urls = (cluster.new_database("plain"), cluster.new_database("compacted"))
            before, after, seconds = _measure(urls, bodies, args.round,
                                              _on_engine(pg_bytes_per_event_by_object),
                                              _on_engine(pg_bytes_per_event))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            files = (Path(tmp) / "plain.sqlite3", Path(tmp) / "compacted.sqlite3")
            before, after, seconds = _measure(
                (f"sqlite:///{files[0]}", f"sqlite:///{files[1]}"), bodies, args.round,
                lambda url: bytes_per_event_by_object(Path(url.removeprefix("sqlite:///"))),
                lambda url: bytes_per_event(Path(url.removeprefix("sqlite:///"))))
    count = args.envelopes * EVENTS_PER_ENVELOPE
    print(f"events={count} compaction_us_per_event={seconds / count * 1e6:.1f}")
    print(f"bytes_per_event_before={before:.0f} bytes_per_event_after={after:.0f} "
          f"ratio={after / before:.3f}")


if __name__ == "__main__":
    main()
