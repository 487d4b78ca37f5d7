"""A store keeps the time zone its learner days were counted in; only a rebuild changes it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tests.support.events import heartbeat, unique_email, wrap
from tests.support.platform import NewStore, StoreLocation, free_port, run_cli
from timeledger.server import queries
from timeledger.server.platform import open_platform
from timeledger.server.settings import Settings


def _days(store: StoreLocation, email: str) -> list[str]:
    platform = open_platform(Settings(db_url=store.url()))
    try:
        with platform.engine.connect() as conn:
            return [day["date"] for day in queries.learner_summary(conn, email)["days"]]
    finally:
        platform.close()


def test_the_zone_is_kept_refused_when_different_and_changed_by_rebuild(
        new_store: NewStore, tmp_path: Path) -> None:
    store = new_store("db")
    data = store.args()
    email = unique_email("zone")
    # 02:00 UTC on Tuesday 14 January is still Monday 13 January in New York.
    envelope = wrap(heartbeat(email, str(uuid.uuid4()),
                              datetime(2025, 1, 14, 2, 0, tzinfo=UTC), 60))
    path = tmp_path / "one.json"
    path.write_text(json.dumps(envelope))
    run_cli("import", str(path), *data, "--timezone", "America/New_York")
    assert _days(store, email) == ["2025-01-13"]

    refused = run_cli("import", str(path), *data, "--timezone", "UTC", check=False)
    assert refused.returncode != 0
    assert "counts learner days in America/New_York" in refused.stderr
    assert "timeledger rebuild --timezone UTC" in refused.stderr
    server = run_cli("serve", "--port", str(free_port()), *data, "--timezone", "Europe/Paris",
                     check=False, timeout=60)
    assert server.returncode != 0
    assert "timeledger rebuild --timezone Europe/Paris" in server.stderr

    unnamed = run_cli("import", str(path), *data)  # no zone named: the stored one, no error
    assert "duplicates=1" in unnamed.stderr

    rebuilt = run_cli("rebuild", *data, "--timezone", "UTC", "--quiet")
    assert "(UTC)" in rebuilt.stdout
    assert _days(store, email) == ["2025-01-14"]
    assert run_cli("import", str(path), *data, "--timezone", "UTC").returncode == 0
    again = run_cli("rebuild", *data, "--quiet")
    assert "(UTC)" in again.stdout
