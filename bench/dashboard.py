"""Learner-page time with 10k and with 1M stored events: pages read projections, so it stays flat.

Run: `.venv/bin/python bench/dashboard.py [--events 1000000] [--keep DIR]`. Prints progress, then
as its last line `page_ms_10k=<n> page_ms_1m=<n> ratio=<x>`.

How the store is filled, honestly:
- one learner's school year (the learner whose page is timed) and a template of 30 other
  learners' activity, about 10k events in all, go through the real ingest path (`Ingestor`);
- the 1M store is then made by copying the template's rows, events and every projection alike,
  with their keys (emails, run ids, event ids, seqs) made unique per copy: what ingesting ~6,600
  more learners would have written, without spending a quarter of an hour ingesting them.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import sqlalchemy as sa

from timeledger.caliper.builders import (
    ActivityRef,
    Learner,
    completed_event,
    envelope,
    time_spent_event,
)
from timeledger.caliper.envelope import parse_envelope
from timeledger.caliper.metrics import Metrics
from timeledger.server.app import create_app
from timeledger.server.platform import Platform, open_platform
from timeledger.server.settings import Settings
from timeledger.server.store.database import SQLITE_FILE_NAME, sqlite_url
from timeledger.server.store.projection_tables import PROJECTION_TABLES
from timeledger.server.store.schema import events

SENSOR = "https://bench.example"
TARGET = "year.learner@bench.example"
FILLER_LEARNERS = 30
SMALL_STORE = 10_000
LARGE_STORE = 1_000_000
SEQ_STRIDE = 10_000_000  # each copy's seqs live in their own range
REQUESTS = 30
# Columns that identify a learner, a run or an event: suffixed per copy to stay unique.
KEY_COLUMNS = {"email", "learner_email", "first_actor_id", "actor_id", "run_id", "event_id",
               "completion_event_id", "overlap_event_id", "dedupe_key", "flag_key",
               "last_event_id", "prev_event_id", "prev2_event_id"}
SEQ_COLUMNS = {"seq", "first_seq", "completion_seq", "pct_seq"}
LEARNER_COLUMNS = ("learner_email", "email")


def _activities() -> list[ActivityRef]:
    return [ActivityRef(url=f"{SENSOR}/activities/Math/g5/lesson-{n}", name=f"Lesson {n}",
                        subject="Math", app_name="Bench", course_id="Math G5",
                        course_name="Math G5") for n in range(40)]


def _learner_days(rng: random.Random, email: str, days: list[datetime],
                  runs_per_day: int) -> Iterator[dict[str, Any]]:
    """Single-session lessons: a 60 s window per minute, then the completion."""
    actor = Learner(email=email).actor("https://sis.bench.example")
    activities = _activities()
    for day in days:
        at = day + timedelta(hours=9, minutes=rng.uniform(0, 60))
        for _ in range(runs_per_day):
            run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            activity = rng.choice(activities)
            minutes = rng.randint(6, 14)
            for _minute in range(minutes):
                yield time_spent_event(actor=actor, activity=activity, run_id=run_id,
                                       started_at=at, ended_at=at + timedelta(minutes=1),
                                       active_ms=60_000, inactive_ms=0)
                at += timedelta(minutes=1)
            total = 10
            correct = rng.randint(7, 10)
            yield completed_event(actor=actor, activity=activity, run_id=run_id, ended_at=at,
                                  metrics=Metrics(xp_earned=minutes - 1 if correct >= 8 else 0,
                                                  total_questions=total,
                                                  correct_questions=correct))
            at += timedelta(minutes=rng.uniform(5, 40))


def _school_days(now: datetime, count: int) -> list[datetime]:
    start = (now - timedelta(days=400)).replace(hour=0, minute=0, second=0, microsecond=0)
    days = [start + timedelta(days=n) for n in range(400)]
    return [day for day in days if day.weekday() < 5][-count:]


def _ingest(platform: Platform, items: list[dict[str, Any]], now: datetime) -> None:
    for start in range(0, len(items), 1000):
        raw = orjson.dumps(envelope(SENSOR, items[start:start + 1000], now))
        platform.ingestor.ingest(parse_envelope(raw), client_id="bench")


def fill_small_store(platform: Platform, now: datetime) -> int:
    """The timed learner's school year, and the filler template, through the ingest path."""
    rng = random.Random(7)
    year = list(_learner_days(rng, TARGET, _school_days(now, 180), 2))
    _ingest(platform, year, now)
    filler: list[dict[str, Any]] = []
    days = _school_days(now, 180)
    per_learner = (SMALL_STORE - len(year)) // FILLER_LEARNERS
    for n in range(FILLER_LEARNERS):
        mine: list[dict[str, Any]] = []
        for event in _learner_days(rng, f"filler{n}@bench.example", rng.sample(days, 20), 1):
            if len(mine) == per_learner:
                break
            mine.append(event)
        filler += mine
    _ingest(platform, sorted(filler, key=lambda e: e["eventTime"]), now)
    return _count(platform)


def _count(platform: Platform) -> int:
    with platform.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())


def _template_filter(table: sa.Table, template_runs: sa.Select[Any]) -> Any:
    for name in LEARNER_COLUMNS:
        if name in table.c:
            return sa.and_(table.c[name].like("filler%"), table.c[name].not_like("%~%"))
    if "run_id" in table.c:
        return table.c.run_id.in_(template_runs)
    return None  # shared rows (courses, line items): not per learner, not copied


def copy_template(platform: Platform, copies: int, first_copy: int) -> None:
    """Copy the filler learners' rows `copies` times, in every table, with fresh keys."""
    numbers = sa.Table("bench_copies", sa.MetaData(), sa.Column("k", sa.Integer),
                       prefixes=["TEMPORARY"])
    runs_table = next(t for t in PROJECTION_TABLES if t.name == "runs")
    template_runs = sa.select(runs_table.c.run_id).where(
        runs_table.c.learner_email.like("filler%"), runs_table.c.learner_email.not_like("%~%"))
    with platform.engine.begin() as conn:
        numbers.create(conn)
        conn.execute(numbers.insert(), [{"k": k} for k in range(first_copy, first_copy + copies)])
        for table in (events, *PROJECTION_TABLES):
            where = _template_filter(table, template_runs)
            if where is None:
                continue
            suffix = "~" + sa.cast(numbers.c.k, sa.String)
            exprs = []
            for column in table.c:
                if column.name in KEY_COLUMNS:
                    exprs.append(column + suffix)
                elif column.name in SEQ_COLUMNS:
                    exprs.append(column + numbers.c.k * SEQ_STRIDE)
                else:
                    exprs.append(column)
            conn.execute(sa.insert(table).from_select(
                list(table.c), sa.select(*exprs).select_from(table).join(numbers, sa.true())
                .where(where)))
        numbers.drop(conn)


def time_learner_pages(*platforms: Platform) -> list[float]:
    """Median milliseconds of GET /learners/{email} on each platform, through its ASGI app.

    Requests alternate between the platforms (in turn first), so a busy machine slows them
    alike."""

    async def measure() -> list[float]:
        path = f"/learners/{quote(TARGET)}"
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(platform)),
                                     base_url="http://127.0.0.1") for platform in platforms]
        samples: list[list[float]] = [[] for _ in platforms]
        try:
            for _ in range(3):
                for client in clients:
                    reply = await client.get(path)
                    assert reply.status_code == 200, reply.text[:500]
            for round_ in range(REQUESTS):
                order = list(zip(clients, samples, strict=True))
                for client, mine in order if round_ % 2 else reversed(order):
                    started = time.perf_counter()
                    await client.get(path)
                    mine.append((time.perf_counter() - started) * 1000)
        finally:
            for client in clients:
                await client.aclose()
        return [statistics.median(mine) for mine in samples]

    return asyncio.run(measure())


def snapshot(platform: Platform, folder: Path) -> Platform:
    """A copy of the store as it is now, opened as a platform of its own."""
    with platform.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder_of(platform) / SQLITE_FILE_NAME, folder / SQLITE_FILE_NAME)
    return open_platform(Settings(db_url=sqlite_url(folder), data_dir=folder,
                                  dashboard_open=True))


def folder_of(platform: Platform) -> Path:
    assert platform.settings.data_dir is not None
    return platform.settings.data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=LARGE_STORE,
                        help="events in the large store")
    parser.add_argument("--keep", type=Path, help="build the stores in this folder and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="timeledger-bench-"))
    large_dir = folder / "large"
    large_dir.mkdir(parents=True, exist_ok=True)
    platform = open_platform(Settings(db_url=sqlite_url(large_dir), data_dir=large_dir,
                                      dashboard_open=True))
    try:
        print(run(platform, folder / "small", args.events), flush=True)
    finally:
        platform.close()
        if args.keep is None:
            shutil.rmtree(folder)


def run(platform: Platform, small_dir: Path, target_events: int) -> str:
    now = datetime.now(UTC)
    started = time.perf_counter()
    small_count = fill_small_store(platform, now)
    print(f"ingested {small_count:,} events in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    small = snapshot(platform, small_dir)
    with platform.engine.connect() as conn:
        template = int(conn.execute(sa.select(sa.func.count()).select_from(events).where(
            events.c.learner_email.like("filler%"))).scalar_one())
    copies = math.ceil((target_events - small_count) / template)
    started = time.perf_counter()
    done = 0
    while done < copies:
        batch = min(40, copies - done)
        copy_template(platform, batch, done + 1)
        done += batch
        print(f"copied {done}/{copies} ({_count(platform):,} events)", file=sys.stderr)
    large_count = _count(platform)
    print(f"grew to {large_count:,} events in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    try:
        small_ms, large_ms = time_learner_pages(small, platform)
    finally:
        small.close()
    print(f"learner page: {small_ms:.1f} ms at {small_count:,} events, {large_ms:.1f} ms at "
          f"{large_count:,} (median of {REQUESTS} each, interleaved)", file=sys.stderr)
    return f"page_ms_10k={small_ms:.1f} page_ms_1m={large_ms:.1f} ratio={large_ms / small_ms:.2f}"


if __name__ == "__main__":
    main()
