"""Every dashboard page, the class view and the query API's routes at 10k and at 1M stored events.

Run: `.venv/bin/python bench/dashboard.py [--scale 1.0] [--requests 7]`. Prints progress on stderr,
then one line per route, `<route> ms_10k=<n> ms_1m=<n> ratio=<x> cpu_ms_10k=... cpu_ratio=...`
(target: ratio <= 1.5, the page reads projections whose size does not grow with history; CPU
time is printed too, because on a loaded machine wall time mostly measures waiting for a core),
then the class view's line `class_view_500 ms=<n> static_ms=<n> ratio=<x> cpu_ms=...` (target:
<= 200 ms, against a static page of the same size served by the same ASGI stack), and last
`worst_ratio=<x>`.

How the stores are filled, honestly:
- both are SQLite files whose projection rows are bulk-inserted directly (runs, run days, run
  windows, learner days, completions, the XP ledger, gradebook results, course progress, flags,
  learner, learner-course and learner-activity totals, learners, courses and the course
  registry), consistent with one another, as the projector would have written them for the
  events they stand for; projecting 1M events on this machine takes about 20 minutes (about 800
  events/s while other work runs). The event log itself is left empty, so `rebuild` would not
  give these rows back, and the events explorer (which pages the log by seq) is not timed here.
  The flags are drawn at random (5 % of runs; a fifth of them learning flags), not by the rules.
- each run stands for two events (one time report, one completion) and has one window; a
  learner's runs take the course's 10 activities in turn.
- the 10k store: 500 learners in one course (with daily goals), one run on each of the last 10
  school days, and one learner with 800 runs more: 11,600 events. That learner's runs are enough
  to fill every list their pages show (the newest 25 runs, 50 results, 50 learning flags, 200
  runs of one activity), so both stores draw the same amount; every learner has touched every
  activity, so the course page draws the same heatmap.
- the 1M store: the same 500 learners with three runs on every school day of the last year
  (783k events), and the same learner with 100,000 more runs (200k events): about 1M events,
  491k runs.
The timed learner, run and activity-runs pages are that learner's (810 runs against 100,783).
`GET /api/v1/gradebook` is timed by pages of 100 results: that learner's first and second page
(the second read through the first's `next` cursor) and the course's first page.
Not timed: the gradebook downloads, which list every result asked for (up to 100,000: an
export, by design).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from timeledger.server.app import create_app
from timeledger.server.pipeline.flags import LEARNING_KINDS
from timeledger.server.pipeline.gradebook import score_micro
from timeledger.server.platform import Platform, open_platform
from timeledger.server.settings import Settings
from timeledger.server.store import projection_tables as pt
from timeledger.server.store.database import sqlite_url
from timeledger.server.store.driver_rows import driver_params

COURSE = "Math G5"
LEARNERS = 500
HEAVY = "learner000@bench.example"
HEAVY_EXTRA_RUNS = 100_000
# the heavy learner's runs in the small store: enough to fill every list their pages show (the
# newest 25 runs, 50 results and 50 learning flags), so both stores render the same amount
HEAVY_SMALL_RUNS = 800
ACTIVITIES = 10
SENSOR = "https://bench.example"
CHUNK = 5000
HEAVY_ACTIVITY = f"{SENSOR}/activities/0"
GRADEBOOK_PAGE = f"/api/v1/gradebook?learner={quote(HEAVY)}&limit=100"
PAGES = ["/", "/?range=last_week", "/class.csv", "/overview", "/learners", "/courses",
         f"/courses/{quote(COURSE)}", "/flags", "/integration", f"/learners/{quote(HEAVY)}",
         "RUN", f"/activity-runs?learner={quote(HEAVY)}&course={quote(COURSE)}"
         f"&activity={quote(HEAVY_ACTIVITY, safe='')}",
         f"/export/learner-days.csv?learner={quote(HEAVY)}", "/classes", "/share-links",
         "/api/v1/class", "/api/v1/learners", "/api/v1/overview", "/api/v1/courses",
         f"/api/v1/courses/{quote(COURSE)}", "/api/v1/flags?limit=100",
         f"/api/v1/learners/{quote(HEAVY)}/summary", f"/api/v1/runs?learner={quote(HEAVY)}",
         "API_RUN", GRADEBOOK_PAGE, "API_GRADEBOOK_NEXT",
         f"/api/v1/gradebook?course={quote(COURSE)}&limit=100"]


def insert_rows(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """One executemany through the driver, values as the store's types write them
    (store/driver_rows.py): SQLAlchemy's bind processing would take minutes."""
    if not rows:
        return
    names = list(rows[0])
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
        driver_params(conn, rows, names, table))


def school_days_back(today: date, count: int) -> list[date]:
    days: list[date] = []
    day = today
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


class StoreWriter:
    """Projection rows for runs, kept consistent: every run adds to its day, totals and book."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seq = 0
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.days: dict[tuple[str, str], dict[str, int]] = {}
        self.totals: dict[str, dict[str, Any]] = {}
        self.attempts: dict[tuple[str, int], int] = defaultdict(int)
        self.first_seen: dict[str, datetime] = {}
        self.last_seen: dict[str, datetime] = {}
        self.activities: dict[tuple[str, int], dict[str, Any]] = {}
        self.turns: dict[str, int] = defaultdict(int)

    def run(self, email: str, start: datetime, flag_rate: float = 0.05,
            learning_share: float = 0.2, activity_no: int | None = None) -> None:
        rng = self.rng
        run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if activity_no is None:  # in turn: ten runs have touched every activity
            activity_no = self.turns[email] % ACTIVITIES
            self.turns[email] += 1
        activity = f"{SENSOR}/activities/{activity_no}"
        minutes = rng.randint(6, 14)
        active_ms = minutes * 60_000
        end = start + timedelta(milliseconds=active_ms)
        total, correct = 10, rng.randint(6, 10)
        xp_milli = (minutes - 1) * 1000 if correct >= 8 else 0
        self.seq += 2
        window_event, done_event = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
        day = start.date().isoformat()
        self.attempts[(email, activity_no)] += 1
        attempt = self.attempts[(email, activity_no)]
        self.rows["runs"].append({
            "run_id": run_id, "learner_email": email, "actor_id": f"{SENSOR}/users/{email}",
            "activity_id": activity, "activity_name": f"Lesson {activity_no}",
            "course_id": COURSE, "subject": "Math", "app_name": "Bench", "first_seen": start,
            "last_seen": end, "active_ms": active_ms, "inactive_ms": 0, "other_ms": 0,
            "heartbeats": 1, "completions": 1, "xp_milli": xp_milli,
            "completion_seq": self.seq, "completion_event_id": done_event,
            "completion_time": end, "completion_attempt": attempt,
            "completion_xp_milli": xp_milli, "completion_total_questions": total,
            "completion_correct_questions": correct, "completion_mastered_units": 1,
            "completion_pct_complete": None})
        self.rows["run_days"].append({"run_id": run_id, "local_date": day,
                                      "active_ms": active_ms, "inactive_ms": 0})
        self.rows["run_windows"].append({
            "run_id": run_id, "window_key": f"s:{start.isoformat()}", "seq": self.seq - 1,
            "event_id": window_event, "event_time": end, "start_at": start, "end_at": end,
            "bounds_reported": True, "active_ms": active_ms, "inactive_ms": 0, "other_ms": 0,
            "overlap_event_id": None})
        completion = {"seq": self.seq, "event_id": done_event, "learner_email": email,
                      "course_id": COURSE, "run_id": run_id, "activity_id": activity,
                      "event_time": end, "local_date": day, "xp_milli": xp_milli}
        self.rows["xp_ledger"].append(completion)
        self.rows["completions"].append({
            **completion, "dedupe_key": f"{run_id}|{attempt}|{end.isoformat()}",
            "attempt": attempt, "total_questions": total, "correct_questions": correct,
            "mastered_units": 1, "pct_complete": None})
        self.rows["gradebook_results"].append({
            "learner_email": email, "course_id": COURSE, "activity_id": activity,
            "attempt": attempt, "seq": self.seq, "event_id": done_event, "run_id": run_id,
            "score": correct * 10.0, "total_questions": total, "correct_questions": correct,
            "xp_milli": xp_milli, "mastered_units": 1, "pct_complete": None, "score_date": end})
        sums = self.days.setdefault((email, day), dict.fromkeys(
            ("active_ms", "xp_milli", "completions", "total_questions", "correct_questions",
             "mastered_units"), 0))
        for name, value in (("active_ms", active_ms), ("xp_milli", xp_milli), ("completions", 1),
                            ("total_questions", total), ("correct_questions", correct),
                            ("mastered_units", 1)):
            sums[name] += value
        mine = self.totals.setdefault(email, {"runs": 0, "flags": 0, "learning_flags": 0,
                                              "accuracy": []})
        mine["runs"] += 1
        mine["accuracy"].insert(0, correct * 100)
        del mine["accuracy"][5:]
        mine["accuracy_event_id"] = done_event
        cell = self.activities.setdefault((email, activity_no), {
            "learner_email": email, "course_id": COURSE, "activity_id": activity,
            "activity_name": f"Lesson {activity_no}", "first_seen": start, "runs": 0,
            "completed_runs": 0, "results": 0, "scored_results": 0, "score_micro_sum": 0,
            "best_score": None})
        cell["first_seen"] = min(cell["first_seen"], start)
        for name in ("runs", "completed_runs", "results", "scored_results"):
            cell[name] += 1
        cell["score_micro_sum"] += score_micro(correct * 10.0)
        cell["best_score"] = max(cell["best_score"] or 0.0, correct * 10.0)
        self.first_seen[email] = min(self.first_seen.get(email, start), start)
        self.last_seen[email] = max(self.last_seen.get(email, end), end)
        if rng.random() < flag_rate:  # an app fault now and then, a learning flag less often
            kind = "low_accuracy" if rng.random() < learning_share else \
                "heartbeats_after_completion"
            self.rows["flags"].append({
                "flag_key": f"{kind}:{run_id}", "kind": kind, "run_id": run_id,
                "learner_email": email, "course_id": COURSE,
                "event_ids": orjson.dumps([window_event, done_event]).decode(),
                "reason": f"Time reported on run {run_id} from {start.isoformat()}Z, after its "
                          f"completion at {end.isoformat()}Z.",
                "first_seq": self.seq, "event_time": end, "occurrences": 1})
            mine["flags"] += 1
            mine["learning_flags"] += kind in LEARNING_KINDS

    def flush(self, conn: sa.Connection, tables: dict[str, sa.Table],
              final: bool = False) -> None:
        for name, rows in self.rows.items():
            if len(rows) >= CHUNK or (final and rows):
                insert_rows(conn, tables[name], rows)
                rows.clear()

    def finish(self, conn: sa.Connection, tables: dict[str, sa.Table], now: datetime) -> None:
        self.flush(conn, tables, final=True)
        day_rows = [{"learner_email": email, "course_id": COURSE, "local_date": day,
                     "inactive_ms": 0, **sums} for (email, day), sums in self.days.items()]
        for start in range(0, len(day_rows), CHUNK):
            insert_rows(conn, pt.learner_days, day_rows[start:start + CHUNK])
        per_learner: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (email, _day), sums in self.days.items():
            for name, value in sums.items():
                per_learner[email][name] += value
            per_learner[email]["days_active"] += 1
        people, totals, course_totals, progress = [], [], [], []
        for email, sums in per_learner.items():
            mine = self.totals[email]
            accuracy = (mine["accuracy"] + [None] * 5)[:5]
            people.append({"email": email, "name": email.split("@")[0].title(),
                           "first_actor_id": f"{SENSOR}/users/{email}",
                           "first_seen": self.first_seen[email],
                           "last_seen": self.last_seen[email]})
            base = {"learner_email": email, "inactive_ms": 0, **sums, "runs": mine["runs"]}
            totals.append({**base, "flags": mine["flags"],
                           "learning_flags": mine["learning_flags"], "accuracy_event_id":
                           mine["accuracy_event_id"],
                           **{f"accuracy_{n + 1}": v for n, v in enumerate(accuracy)}})
            course_totals.append({**base, "course_id": COURSE})
            progress.append({"learner_email": email, "course_id": COURSE, "pct_complete": None,
                             "pct_time": None, "pct_seq": None,
                             "mastered_units": sums["mastered_units"],
                             "completions": sums["completions"], "xp_milli": sums["xp_milli"]})
        insert_rows(conn, pt.learners, people)
        insert_rows(conn, pt.learner_aliases, [
            {"actor_id": p["first_actor_id"], "learner_email": p["email"],
             "first_seen": p["first_seen"]} for p in people])
        insert_rows(conn, pt.learner_totals, totals)
        insert_rows(conn, pt.learner_course_totals, course_totals)
        insert_rows(conn, pt.course_progress, progress)
        cells = list(self.activities.values())
        for start in range(0, len(cells), CHUNK):
            insert_rows(conn, pt.learner_activities, cells[start:start + CHUNK])
        first = min(self.first_seen.values())
        conn.execute(pt.courses.insert().values(course_id=COURSE, name=COURSE, subject="Math",
                                                app_name="Bench", first_seen=first))
        conn.execute(pt.course_registry.insert().values(
            course_id=COURSE, name=COURSE, subject="Math", grade=5, course_code="MATH5",
            app_name="Bench", goals=orjson.dumps({"dailyActiveMinutes": 20, "dailyXp": 20})
            .decode(), total_lessons=ACTIVITIES, total_xp=None, env="production",
            source="bench", loaded_at=now))
        conn.execute(pt.gradebook_line_items.insert(), [
            {"course_id": COURSE, "activity_id": f"{SENSOR}/activities/{n}",
             "activity_name": f"Lesson {n}", "subject": "Math", "app_name": "Bench",
             "first_seen": first} for n in range(ACTIVITIES)])


def _emails() -> list[str]:
    return [f"learner{n:03d}@bench.example" for n in range(LEARNERS)]


def _lessons(day: date, count: int, rng: random.Random) -> Iterator[datetime]:
    at = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    for _ in range(count):
        at += timedelta(minutes=rng.randint(20, 50))
        yield at


def build(folder: Path, school_days: int, runs_per_day: int, heavy_runs: int,
          today: date, now: datetime) -> tuple[Platform, int]:
    """A store with every learner's runs on the last `school_days` school days; returns the
    platform and the number of events the rows stand for."""
    folder.mkdir(parents=True, exist_ok=True)
    platform = open_platform(Settings(db_url=sqlite_url(folder), data_dir=folder,
                                      dashboard_open=True))
    tables = {table.name: table for table in pt.PROJECTION_TABLES}
    writer = StoreWriter(seed=school_days)
    days = school_days_back(today, school_days)
    with platform.engine.begin() as conn:
        for email in _emails():
            for day in days:
                for start in _lessons(day, runs_per_day, writer.rng):
                    if start < now:
                        writer.run(email, start)
            writer.flush(conn, tables)
        heavy_days = school_days_back(today - timedelta(days=1), 365)
        for index in range(heavy_runs):
            day = heavy_days[index % len(heavy_days)]
            start = datetime(day.year, day.month, day.day, 6, tzinfo=UTC) + timedelta(
                minutes=(index // len(heavy_days)) * 3 % 900)
            # every third run is of lesson 0, so its runs page is full (200) in both stores
            writer.run(HEAVY, start, flag_rate=0.15, learning_share=0.6,
                       activity_no=0 if index % 3 == 0 else None)
            writer.flush(conn, tables)
        writer.finish(conn, tables, now)
    return platform, writer.seq


def _token(platform: Platform, now: datetime) -> str:
    issued = platform.credentials.create_client("bench", ("reports:read",), now)
    token = platform.credentials.issue_token(issued.client_id, issued.client_secret, (), now)
    assert token is not None
    return token.token


def _heavy_run(platform: Platform) -> str:
    with platform.engine.connect() as conn:
        return str(conn.execute(sa.select(pt.runs.c.run_id).where(
            pt.runs.c.learner_email == HEAVY).order_by(pt.runs.c.last_seen.desc()).limit(1)
        ).scalar_one())


def time_routes(platforms: list[Platform], tokens: list[str], requests: int
                ) -> dict[str, list[tuple[float, float]]]:
    """Median (wall ms, CPU ms) of each route on each platform, requests alternating between
    the platforms. CPU time (this process, every thread) is what a loaded machine cannot
    inflate by keeping the process waiting for a core."""
    runs = [_heavy_run(platform) for platform in platforms]

    async def measure() -> dict[str, list[tuple[float, float]]]:
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(platform)),
                                     base_url="http://127.0.0.1",
                                     headers={"Authorization": f"Bearer {token}"})
                   for platform, token in zip(platforms, tokens, strict=True)]
        out: dict[str, list[tuple[float, float]]] = {}
        try:
            second_pages = [f"{GRADEBOOK_PAGE}&after=" + quote(
                (await client.get(GRADEBOOK_PAGE)).json()["next"]) for client in clients]
            for route in PAGES:
                paths = [{"RUN": f"/runs/{run}", "API_RUN": f"/api/v1/runs/{run}",
                          "API_GRADEBOOK_NEXT": second_page}.get(route, route)
                         for run, second_page in zip(runs, second_pages, strict=True)]
                samples: list[list[float]] = [[] for _ in platforms]
                cpu: list[list[float]] = [[] for _ in platforms]
                for client, path in zip(clients, paths, strict=True):
                    reply = await client.get(path)
                    assert reply.status_code == 200, (path, reply.text[:300])
                for round_ in range(requests):
                    order = list(zip(clients, paths, samples, cpu, strict=True))
                    for client, path, mine, used in order if round_ % 2 else reversed(order):
                        started, cpu_started = time.perf_counter(), time.process_time()
                        await client.get(path)
                        mine.append((time.perf_counter() - started) * 1000)
                        used.append((time.process_time() - cpu_started) * 1000)
                out[route] = [(statistics.median(mine), statistics.median(used))
                              for mine, used in zip(samples, cpu, strict=True)]
                print(f"  {route}: " + ", ".join(f"{ms:.1f} ms ({cpu_ms:.1f} ms CPU)"
                                                 for ms, cpu_ms in out[route]),
                      file=sys.stderr, flush=True)
        finally:
            for client in clients:
                await client.aclose()
        return out

    return asyncio.run(measure())


def time_against_static(platform: Platform, requests: int
                        ) -> tuple[float, float, float, float, int]:
    """The class view (500 learners) against a static page of its size, same ASGI stack:
    median wall and CPU ms of each, and the page's size."""

    async def measure() -> tuple[float, float, float, float, int]:
        app = create_app(platform)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1") as client:
            body = (await client.get("/")).content

            async def static(_request: Request) -> Response:
                return HTMLResponse(body)

            plain = Starlette(routes=[Route("/", static)])
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=plain),
                                         base_url="http://127.0.0.1") as fixed:
                page_ms: list[float] = []
                static_ms: list[float] = []
                page_cpu: list[float] = []
                static_cpu: list[float] = []
                for _ in range(requests):
                    for target, mine, used in ((client, page_ms, page_cpu),
                                               (fixed, static_ms, static_cpu)):
                        started, cpu_started = time.perf_counter(), time.process_time()
                        reply = await target.get("/")
                        mine.append((time.perf_counter() - started) * 1000)
                        used.append((time.process_time() - cpu_started) * 1000)
                        assert reply.status_code == 200
        return (statistics.median(page_ms), statistics.median(static_ms),
                statistics.median(page_cpu), statistics.median(static_cpu), len(body))

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="shrink the 1M store (0.1: about 100k events) for a quick look")
    parser.add_argument("--requests", type=int, default=7, help="timed requests per route")
    parser.add_argument("--keep", type=Path, help="build the stores in this folder and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="timeledger-bench-dashboard-"))
    now = datetime.now(UTC)
    today = now.date()
    started = time.perf_counter()
    small, small_events = build(folder / "small", 10, 1, HEAVY_SMALL_RUNS, today, now)
    print(f"10k store: {small_events:,} events in {time.perf_counter() - started:.1f} s",
          file=sys.stderr, flush=True)
    started = time.perf_counter()
    large, large_events = build(folder / "large", max(10, round(261 * args.scale)), 3,
                                round(HEAVY_EXTRA_RUNS * args.scale), today, now)
    print(f"1M store: {large_events:,} events in {time.perf_counter() - started:.1f} s",
          file=sys.stderr, flush=True)
    try:
        timed = time_routes([small, large], [_token(small, now), _token(large, now)],
                            args.requests)
        page_ms, static_ms, page_cpu, static_cpu, size = time_against_static(
            large, args.requests)
    finally:
        small.close()
        large.close()
        if args.keep is None:
            shutil.rmtree(folder)
    worst = 0.0
    for route, ((small_ms, small_cpu), (large_ms, large_cpu)) in timed.items():
        ratio = large_ms / small_ms
        worst = max(worst, ratio)
        print(f"{route} ms_10k={small_ms:.1f} ms_1m={large_ms:.1f} ratio={ratio:.2f} "
              f"cpu_ms_10k={small_cpu:.1f} cpu_ms_1m={large_cpu:.1f} "
              f"cpu_ratio={large_cpu / max(small_cpu, 0.01):.2f}")
    print(f"class_view_500 ms={page_ms:.1f} static_ms={static_ms:.1f} "
          f"ratio={page_ms / static_ms:.1f} cpu_ms={page_cpu:.1f} static_cpu_ms={static_cpu:.1f} "
          f"bytes={size}")
    print(f"worst_ratio={worst:.2f}")


if __name__ == "__main__":
    main()
