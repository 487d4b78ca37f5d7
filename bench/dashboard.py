"""Every dashboard page, the class view and the query API's routes at 10k and at 1M stored events.

Run: `.venv/bin/python bench/dashboard.py [--scale 1.0] [--requests 7]`. Prints progress on stderr,
then one line per route, `<route> ms_10k=<n> ms_1m=<n> ratio=<x> cpu_ms_10k=... cpu_ratio=...`
(target: ratio <= 1.5, the page reads projections whose size does not grow with history; CPU
time is printed too, because on a loaded machine wall time mostly measures waiting for a core),
then the class view's line `class_view_500 ms=<n> static_ms=<n> ratio=<x> cpu_ms=...` (target:
<= 200 ms, against a static page of the same size served by the same ASGI stack), and last
`worst_ratio=<x>`.

How the stores are filled (bench/dashboard_store.py): as a platform is. Every run's events (a
time report and a completion, built by `timeledger.caliper.builders`) go in envelopes of 100
through the compiled screen and `platform.ingestor` (the append the HTTP path uses, in this
process), then the projector projects them; so the event log holds them all, `rebuild` gives the
same rows back, and every flag is the rules' own. The stores are built once per version of the
code that writes them and kept in a cache folder (see bench/dashboard_store.py: 1M events took 39
minutes here) and copied for each run; `--no-cache` builds afresh in the run's folder.
- the runs: each has one window and one completion (10 questions, 6-10 correct; XP one less
  than its minutes when 8 or more are correct), a learner's runs take the course's 10 activities
  in turn, and a day comes to 18-42 minutes against a daily goal of 20 minutes and 20 XP, so
  some learners are behind goal for days running and some accuracies fall (the class view's
  concerns). 5 % of runs carry a fault by the rules, a fifth of them learning flags (XP earned
  with 7 of 10 correct: low_accuracy) and the rest integration faults (a time report after the
  run's completion: heartbeats_after_completion, one event more).
- the 10k store: 500 learners in one course, one run on each of the last 10 school days, and
  one learner with 800 runs more (15 % of them flagged, 60 % of those learning flags): about
  11,800 events. That learner's runs are enough to fill every list their pages show (the newest
  25 runs, 50 results, 50 learning flags, 200 runs of one activity, a page of the events
  explorer), so both stores draw the same amount; every learner has touched every activity, so
  the course page draws the same heatmap. The builder stops if the rules flagged too little to
  fill those lists.
- the 1M store: the same 500 learners with three runs on every school day of the last year, and
  the same learner with 100,000 more runs: about 1M events, 491k runs.
The timed learner, run, activity-runs and shared pages are that learner's (810 runs against
100,783); the events explorer is timed unfiltered, by type, by the heavy learner, by the heavy
learner's newest run, and its older page (through `next`), and the query API's event list
unfiltered and by a learner whose events lie at the far end of the 1M store's log, in pages of
20 (that learner has about 20 events in the 10k store: a larger page would draw more rows from
the 1M store than from the 10k one). `GET /api/v1/gradebook` is timed
by pages of 100 results: the heavy learner's first and second page (the second read through the
first's `next` cursor) and the course's first page. `SHARED` is the heavy learner's page as they
see it through a share link.
Not timed: the gradebook downloads, which list every result asked for (up to 100,000: an
export, by design); a roster class's page (the stores hold no roster: `/classes` is timed
empty); the sign-in page, which reads nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `bench.*`

from bench.dashboard_store import COURSE, HEAVY, HEAVY_ACTIVITY, StorePlan, open_store
from timeledger.server.app import create_app
from timeledger.server.dashboard.access import AccessStore
from timeledger.server.platform import Platform
from timeledger.server.store import projection_tables as pt

HEAVY_EXTRA_RUNS = 100_000
# the heavy learner's runs in the small store: enough to fill every list their pages show (the
# newest 25 runs, 50 results and 50 learning flags), so both stores render the same amount
HEAVY_SMALL_RUNS = 800
FAR = "learner001@bench.example"  # appended early: their events lie deep in the log
GRADEBOOK_PAGE = f"/api/v1/gradebook?learner={quote(HEAVY)}&limit=100"
# Placeholders for paths known once a store is open: the heavy learner's newest run, the
# explorer's older page and the gradebook's second page (through their cursors); SHARED is the
# learner's page read with the session their share link opens.
RUN, API_RUN, EVENTS_RUN = "RUN", "API_RUN", "EVENTS_RUN"
EVENTS_OLDER, API_GRADEBOOK_NEXT, SHARED = "EVENTS_OLDER", "API_GRADEBOOK_NEXT", "SHARED"
PAGES = ["/", "/?range=last_week", "/class.csv", "/overview", "/learners", "/courses",
         f"/courses/{quote(COURSE)}", "/flags", "/integration", f"/learners/{quote(HEAVY)}",
         SHARED, RUN, f"/activity-runs?learner={quote(HEAVY)}&course={quote(COURSE)}"
         f"&activity={quote(HEAVY_ACTIVITY, safe='')}",
         f"/export/learner-days.csv?learner={quote(HEAVY)}", "/classes", "/share-links",
         "/admin/accounts", "/events", "/events?type=ActivityEvent",
         f"/events?learner={quote(HEAVY)}", EVENTS_RUN, EVENTS_OLDER,
         "/api/v1/class", "/api/v1/learners", "/api/v1/overview", "/api/v1/courses",
         f"/api/v1/courses/{quote(COURSE)}", "/api/v1/flags?limit=100",
         f"/api/v1/learners/{quote(HEAVY)}/summary", f"/api/v1/runs?learner={quote(HEAVY)}",
         "/api/v1/runs?limit=100", f"/api/v1/runs?course={quote(COURSE)}&limit=100",
         API_RUN, GRADEBOOK_PAGE, API_GRADEBOOK_NEXT,
         f"/api/v1/gradebook?course={quote(COURSE)}&limit=100", "/api/v1/projection",
         "/caliper/events?limit=100", f"/caliper/events?learner={quote(FAR)}&limit=20"]


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


def _client(platform: Platform, token: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(platform)),
                             base_url="http://127.0.0.1",
                             headers={"Authorization": f"Bearer {token}"} if token else None)


async def _placeholders(platform: Platform, client: httpx.AsyncClient,
                        shared: httpx.AsyncClient, now: datetime) -> dict[str, str]:
    """The paths the placeholders stand for in this store; opens `shared`'s learner session."""
    run = _heavy_run(platform)
    gradebook = (await client.get(GRADEBOOK_PAGE)).json()["next"]
    older = (await client.get("/data/events")).json()["next"]
    link = AccessStore(platform.engine).create_share_link(HEAVY, 30, "bench", now)
    opened = await shared.get(f"/share/{link.token}")
    assert opened.status_code in (302, 303), opened.text[:300]
    return {RUN: f"/runs/{run}", API_RUN: f"/api/v1/runs/{run}", EVENTS_RUN: f"/events?run={run}",
            EVENTS_OLDER: f"/data/events?before={older}",
            API_GRADEBOOK_NEXT: f"{GRADEBOOK_PAGE}&after={quote(gradebook)}",
            SHARED: f"/learners/{quote(HEAVY)}"}


def time_routes(platforms: list[Platform], now: datetime, requests: int
                ) -> dict[str, list[tuple[float, float]]]:
    """Median (wall ms, CPU ms) of each route on each platform, requests alternating between
    the platforms. CPU time (this process, every thread) is what a loaded machine cannot
    inflate by keeping the process waiting for a core."""

    async def measure() -> dict[str, list[tuple[float, float]]]:
        clients = [_client(platform, _token(platform, now)) for platform in platforms]
        learners = [_client(platform) for platform in platforms]
        out: dict[str, list[tuple[float, float]]] = {}
        try:
            known = [await _placeholders(platform, client, shared, now)
                     for platform, client, shared in zip(platforms, clients, learners,
                                                         strict=True)]
            for route in PAGES:
                paths = [mine.get(route, route) for mine in known]
                by = learners if route == SHARED else clients
                samples: list[list[float]] = [[] for _ in platforms]
                cpu: list[list[float]] = [[] for _ in platforms]
                for client, path in zip(by, paths, strict=True):
                    reply = await client.get(path)
                    assert reply.status_code == 200, (path, reply.text[:300])
                for round_ in range(requests):
                    order = list(zip(by, paths, samples, cpu, strict=True))
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
            for client in clients + learners:
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
    parser.add_argument("--keep", type=Path, help="copy the stores into this folder and keep them")
    parser.add_argument("--no-cache", action="store_true",
                        help="build the stores afresh in the run's folder, not from the cache")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="timeledger-bench-dashboard-"))
    now = datetime.now(UTC)
    today = now.date()
    plans = [StorePlan("10k", 10, 1, HEAVY_SMALL_RUNS, today),
             StorePlan("1m" if args.scale == 1.0 else f"1m-scale{args.scale:g}",
                       max(10, round(261 * args.scale)), 3, round(HEAVY_EXTRA_RUNS * args.scale),
                       today)]
    platforms: list[Platform] = []
    try:
        for plan in plans:
            started = time.perf_counter()
            platform, events = open_store(plan, folder / plan.name, now,
                                          use_cache=not args.no_cache)
            platforms.append(platform)
            print(f"{plan.name} store: {events:,} events, ready in "
                  f"{time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        timed = time_routes(platforms, now, args.requests)
        page_ms, static_ms, page_cpu, static_cpu, size = time_against_static(
            platforms[1], args.requests)
    finally:
        for platform in platforms:
            platform.close()
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
