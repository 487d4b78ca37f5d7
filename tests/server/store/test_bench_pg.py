"""`bench/ingest.py --db postgresql://...` runs (briefly) and ends with its one-line summary."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.postgres import Backend
from tests.support.shared import REPO

pytestmark = pytest.mark.backends("pg")



def _databases(backend: Backend) -> set[str]:
    import psycopg

    assert backend.cluster is not None
    with psycopg.connect(backend.cluster.url()) as conn:
        return {name for (name,) in conn.execute("SELECT datname FROM pg_database")}


def test_the_ingest_bench_on_a_given_postgresql_reports_each_layout(backend: Backend) -> None:
    assert backend.cluster is not None
    before = _databases(backend)
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "ingest.py"), "--db", backend.cluster.url(),
         "--envelopes", "2", "--connections", "1"],
        capture_output=True, text=True, timeout=240, check=False, cwd=REPO)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert "server=given" in lines[0], lines[0]
    cpu = (r"( \(machine_busy_cores=[\d.]+ api_cpu_s=[\d.]+ projector_cpu_s=[\d.]+"
           r"( db_cpu_s=[\d.]+)? wall_s=[\d.]+\))?")
    assert re.fullmatch(r"apis=1 projectors=0 acked_events_per_s=\d+" + cpu, lines[-8]), lines[-8]
    rates = {}
    for line, layout in zip(lines[-7:-5], ("apis=1 projectors=1", "apis=2 projectors=2"),
                            strict=True):
        found = re.fullmatch(
            layout + r" acked_events_per_s=(\d+) end_to_end_events_per_s=(\d+)" + cpu, line)
        assert found is not None, line
        rates[layout] = (int(found[1]), int(found[2]))
    raws = {}
    for line, form in zip(lines[-5:-3], ("executemany", "unnest"), strict=True):
        found = re.fullmatch(f"raw={form} raw_events_per_s=(\\d+)" + cpu, line)
        assert found is not None, line
        raws[form] = int(found[1])
    samples = re.fullmatch(r"lock_samples=(\d+) samples_with_a_lock_wait=(\d+) "
                           r"waits_by_relation: .+", lines[-3])
    assert samples is not None, lines[-3]
    ceilings = re.fullmatch(r"raw_before=(\d+) raw_after=(\d+) raw_spread=(\d+\.\d{3})",
                            lines[-2])
    assert ceilings is not None, lines[-2]
    before_raw, after_raw = int(ceilings[1]), int(ceilings[2])
    assert after_raw == raws["executemany"]
    found = re.fullmatch(r"pg_ingest_events_per_s=(\d+) pg_raw_events_per_s=(\d+) "
                         r"ratio=(\d+\.\d{3}) scale_ratio=(\d+\.\d{3}) "
                         r"lock_wait_share=(\d+\.\d{3}) unnest_raw_ratio=(\d+\.\d{3})",
                         lines[-1])
    assert found is not None, lines[-1]
    ingest, raw, ratio = int(found[1]), int(found[2]), float(found[3])
    assert ingest == max(acked for acked, _ in rates.values())
    assert abs(raw - (before_raw + after_raw) / 2) <= 1  # the mean of the two ceilings
    assert abs(float(ceilings[3]) - abs(before_raw - after_raw) / raw) < 0.001 + 2 / raw
    assert abs(ratio - ingest / raw) < 0.001 + 1 / raw
    assert abs(float(found[6]) - ingest / raws["unnest"]) < 0.001 + 1 / raws["unnest"]
    one, two = rates["apis=1 projectors=1"][1], rates["apis=2 projectors=2"][1]
    assert abs(float(found[4]) - two / one) < 0.001 + 2 / one
    waited, taken = int(samples[2]), int(samples[1])
    assert taken > 0 and abs(float(found[5]) - waited / taken) < 0.001
    assert _databases(backend) == before  # its scratch databases are gone, the rest untouched


def test_the_ingest_bench_takes_only_postgresql_urls() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "ingest.py"), "--db", "sqlite:///x.sqlite3"],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO)
    assert result.returncode == 2
    assert "--db takes a postgresql:// URL" in result.stderr
